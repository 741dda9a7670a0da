import { afterAll, beforeAll } from "bun:test";
import { skipReason } from "../../../test/support/requirements.ts";
import { startEtcd, type EtcdCluster } from "../../../test/support/etcd.ts";
import { storeContract } from "./contract.ts";
import { createEtcdStore } from "./etcd-store.ts";

// One real etcd for the whole contract; each test gets its own key prefix, so tests cannot see each other.
const skip = skipReason("etcd store contract", { commands: ["etcd"] });
if (skip === null) {
  let etcd: EtcdCluster;
  let n = 0;
  beforeAll(async () => {
    etcd = await startEtcd(1);
  });
  afterAll(async () => etcd?.stop());
  storeContract("etcd", () => {
    const prefix = `/mesh-test-${n++}`;
    const open = async () => createEtcdStore({ endpoints: etcd.endpoints, prefix });
    return {
      open,
      reopen: async (store) => {
        await store.close();
        return open();
      },
      cleanup: async () => {},
    };
  });
}
