/**
 * The CA's current material and the operator's control over root rotation. A plug-in CA is fixed
 * (its files are the operator's to rotate); a generated root rotates through rotation.ts, with
 * the state saved to the secret store before it takes effect here. `reload` picks up a rotation
 * another replica saved (etcd), and `onChange` tells the xDS layer to push the new bundle.
 */
import { MeshError } from "../../errors/mesh-error.ts";
import { parseCertificatePem, summarize } from "../../identity/x509/certificate.ts";
import type { Logger } from "../../telemetry/log.ts";
import type { CaMaterial } from "./authority.ts";
import { materialFrom, rotate, stateFromSecret, stateToSecret, type RootsState, type RotationPhase } from "./rotation.ts";
import type { SecretStore } from "./secrets.ts";

export interface CaStatus {
  readonly plugin: boolean;
  readonly generation: number;
  readonly signingSerial: string;
  readonly roots: ReadonlyArray<{ serial: string; notAfter: string; signing: boolean; prepared: boolean }>;
}

export class CaRotation {
  #material: CaMaterial;
  #state: RootsState | undefined;
  #busy: Promise<unknown> = Promise.resolve();
  readonly #listeners = new Set<() => void>();

  private constructor(
    material: CaMaterial,
    state: RootsState | undefined,
    private readonly secrets?: SecretStore,
    private readonly trustDomain?: string,
    private readonly log?: Logger,
  ) {
    this.#material = material;
    this.#state = state;
  }

  static async fixed(material: CaMaterial): Promise<CaRotation> {
    return new CaRotation(material, undefined);
  }

  static async managed(secrets: SecretStore, state: RootsState, trustDomain: string, log: Logger): Promise<CaRotation> {
    return new CaRotation(await materialFrom(state), state, secrets, trustDomain, log);
  }

  get material(): CaMaterial {
    return this.#material;
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  status(): CaStatus {
    const signingSerial = summarize(this.#material.signing.certificate).serial;
    const prepared = this.#state?.next ? summarize(parseCertificatePem(this.#state.next.certPem)).serial : undefined;
    return {
      plugin: this.#state === undefined,
      generation: this.#material.generation,
      signingSerial,
      roots: this.#material.trustBundle.map((pem) => {
        const s = summarize(parseCertificatePem(pem));
        return { serial: s.serial, notAfter: s.notAfter.toISOString(), signing: s.serial === signingSerial, prepared: s.serial === prepared };
      }),
    };
  }

  /** One rotation step; serialized, saved, then applied. */
  rotate(phase: RotationPhase, now = new Date()): Promise<CaStatus> {
    const step = this.#busy.then(async () => {
      if (!this.#state || !this.secrets || !this.trustDomain) {
        throw new MeshError("failed_precondition", "this control plane uses a plug-in CA: rotate it by replacing --ca-cert/--ca-key/--ca-chain");
      }
      const next = await rotate(this.#state, phase, this.trustDomain, now);
      await this.secrets.replace("ca", stateToSecret(next));
      await this.#apply(next);
      this.log?.info("CA root rotation step", { phase, generation: next.generation, roots: next.bundle.length });
      return this.status();
    });
    this.#busy = step.catch(() => {});
    return step;
  }

  /** Adopt what the secret store holds now, if another replica changed it. */
  reload(): Promise<void> {
    const step = this.#busy.then(async () => {
      if (!this.secrets || !this.#state) return;
      const secret = await this.secrets.get("ca");
      if (!secret) return;
      const stored = stateFromSecret(secret);
      if (stored.generation === this.#state.generation && stored.bundle.join("") === this.#state.bundle.join("") && Boolean(stored.next) === Boolean(this.#state.next)) return;
      await this.#apply(stored);
    });
    this.#busy = step.catch(() => {});
    return step;
  }

  async #apply(state: RootsState): Promise<void> {
    this.#material = await materialFrom(state);
    this.#state = state;
    for (const l of this.#listeners) l();
  }
}
