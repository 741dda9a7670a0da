/**
 * Linux network interface names, as the kernel accepts them (dev_valid_name): 1-15 bytes, not
 * "." or "..", no "/", ":" or white space. mesh is stricter, so a name is also safe as an
 * iptables argument and as a sysctl path component: letters, digits, "_", "-", "." and "@" only,
 * and never "all" or "default" (the sysctl directories that are not interfaces).
 */
const NAME = /^[A-Za-z0-9_.@-]{1,15}$/;

export function isInterfaceName(name: string): boolean {
  return NAME.test(name) && name !== "." && name !== ".." && name !== "all" && name !== "default";
}
