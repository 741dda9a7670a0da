/** Failover of the etcd client: concurrent requests must all reach a live member when one is dead. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startEtcd, type EtcdCluster } from "../../../test/support/etcd.ts";
import { freePort } from "../../../test/support/ports.ts";
import { skipReason } from "../../../test/support/requirements.ts";
import { EtcdClient } from "./etcd-client.ts";

const skip = skipReason("etcd client failover", { commands: ["etcd"] });
let etcd: EtcdCluster | undefined;
beforeAll(async () => {
  if (skip === null) etcd = await startEtcd(1);
});
afterAll(async () => etcd?.stop());

test.skipIf(skip !== null)("concurrent requests fail over past a dead endpoint listed first", async () => {
  const dead = `http://127.0.0.1:${await freePort()}`; // nothing listens there
  const live = (etcd as EtcdCluster).endpoints[0] as string;
  const client = new EtcdClient([dead, live]);
  await client.txn([], [{ put: { key: "/failover/k", value: "v" } }]);
  const results = await Promise.allSettled(Array.from({ length: 100 }, () => client.range("/failover/k")));
  expect(results.filter((r) => r.status === "rejected")).toEqual([]);
  expect(results.map((r) => (r as PromiseFulfilledResult<{ kvs: Array<{ value: string }> }>).value.kvs[0]?.value)).toEqual(Array(100).fill("v"));
});
