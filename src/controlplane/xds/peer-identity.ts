/** The verified SPIFFE id of an xDS/CA client's certificate, as a Connect context value ("" when it presented none that verified). */
import { createContextKey } from "@connectrpc/connect";

export const PEER_IDENTITY = createContextKey<string>("", { description: "verified client SPIFFE id" });
