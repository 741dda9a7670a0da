import { describe, expect, test } from "bun:test";
import { MAX_RESENDS, nextStep, type NextStep, type TryResult, type TryState } from "./next-step.ts";

const policy = { attempts: 2, codes: [503], backoffMs: 25 };
const base: TryState = { retry: null, retries: 0, resends: 0, hopsTried: 1, hops: 2 };
const response = (status: number, resendable = true): TryResult => ({ kind: "response", status, resendable });
const failed = (failure: "connect" | "reset" | "timeout" | "refused", resendable = true): TryResult => ({ kind: "failed", failure, resendable });

describe("what the upstream stage does after a try", () => {
  const cases: Array<[string, TryResult, Partial<TryState>, NextStep]> = [
    ["a response without a policy is kept", response(503), {}, { do: "respond" }],
    ["a status the policy names is retried with backoff", response(503), { retry: policy }, { do: "retry", backoffMs: 25 }],
    ["backoff doubles per retry", response(503), { retry: policy, retries: 1 }, { do: "retry", backoffMs: 50 }],
    ["no attempts left: the response stands", response(503), { retry: policy, retries: 2 }, { do: "respond" }],
    ["a status the policy does not name stands", response(500), { retry: policy }, { do: "respond" }],
    ["a request that cannot be sent again is not retried", response(503, false), { retry: policy }, { do: "respond" }],
    ["a hop that cannot be connected: the next hop, no policy needed", failed("connect"), {}, { do: "next-hop" }],
    ["no hop left: the policy decides", failed("connect"), { retry: policy, hopsTried: 2 }, { do: "retry", backoffMs: 25 }],
    ["no hop left, no policy: connect failure", failed("connect"), { hopsTried: 2 }, { do: "reply", failure: "connect" }],
    ["a connect failure with a body already read is not failed over", failed("connect", false), {}, { do: "reply", failure: "connect" }],
    ["a reset is retried per the policy", failed("reset"), { retry: policy }, { do: "retry", backoffMs: 25 }],
    ["a reset without a policy is answered", failed("reset"), {}, { do: "reply", failure: "reset" }],
    ["a timeout is answered, even with a policy", failed("timeout"), { retry: policy }, { do: "reply", failure: "timeout" }],
    ["a try the hop never processed is sent again, no policy needed", failed("refused"), {}, { do: "resend" }],
    [`at most ${MAX_RESENDS} resends`, failed("refused"), { resends: MAX_RESENDS }, { do: "reply", failure: "reset" }],
    ["a refused try whose body was not kept is answered", failed("refused", false), {}, { do: "reply", failure: "reset" }],
  ];
  for (const [name, result, state, want] of cases) test(name, () => expect(nextStep(result, { ...base, ...state })).toEqual(want));
});
