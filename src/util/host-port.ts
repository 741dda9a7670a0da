/** HOST:PORT values (already format-checked by the option parser) as host and port; ":15012" means every address. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export function parseHostPort(text: string, defaultHost = "0.0.0.0"): HostPort {
  const colon = text.lastIndexOf(":");
  const rawHost = text.slice(0, colon);
  const host = rawHost.startsWith("[") && rawHost.endsWith("]") ? rawHost.slice(1, -1) : rawHost;
  return { host: host === "" ? defaultHost : host, port: Number(text.slice(colon + 1)) };
}

export function formatHostPort(hp: HostPort): string {
  return hp.host.includes(":") ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}
