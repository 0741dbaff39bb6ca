import { spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

export interface DebianDependency {
  /** A binary that proves the packages are installed. */
  bin: string;
  packages: string[];
}

// Debian keeps daemons in sbin and PostgreSQL's server binaries off PATH, so look there too.
const EXTRA_DIRS = ["/usr/bin", "/usr/sbin", "/usr/lib/postgresql/15/bin"];

const CEPH_PACKAGES = ["ceph-mon", "ceph-osd", "ceph-common", "radosgw"];

export const TEST_SERVICES_PACKAGES: readonly DebianDependency[] = [
  { bin: "ceph-mon", packages: CEPH_PACKAGES },
  { bin: "ceph-osd", packages: CEPH_PACKAGES },
  { bin: "monmaptool", packages: CEPH_PACKAGES },
  { bin: "radosgw", packages: CEPH_PACKAGES },
  { bin: "radosgw-admin", packages: CEPH_PACKAGES },
  { bin: "postgres", packages: ["postgresql-15"] },
];

/**
 * Real S3 clients for the end-to-end suite, from Debian. Checked by absolute path: a machine may have other
 * copies on PATH (pip's aws in a pyenv), and the tests mean Debian's.
 */
export const REAL_CLIENT_PACKAGES: readonly DebianDependency[] = [
  { bin: "/usr/bin/aws", packages: ["awscli"] },
  { bin: "/usr/bin/rclone", packages: ["rclone"] },
  { bin: "/usr/bin/s3cmd", packages: ["s3cmd"] },
  { bin: "/usr/lib/python3/dist-packages/boto3/__init__.py", packages: ["python3-boto3"] },
  // The dashboard's end-to-end tests drive Debian's Chromium with playwright-core (ENVIRONMENT: browsers cannot be downloaded).
  { bin: "/usr/bin/chromium", packages: ["chromium"] },
];

/** Absolute path of `bin` on PATH or in Debian's usual binary folders, or undefined. */
export function findBinary(bin: string): string | undefined {
  if (bin.startsWith("/")) {
    try {
      accessSync(bin, constants.F_OK);
      return bin;
    } catch {
      return undefined;
    }
  }
  const dirs = [...(process.env.PATH ?? "").split(delimiter).filter(Boolean), ...EXTRA_DIRS];
  for (const dir of dirs) {
    const candidate = join(dir, bin);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this folder
    }
  }
  return undefined;
}

function isRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

function aptGet(args: string[]): { ok: boolean; output: string } {
  const [cmd, cmdArgs] = isRoot() ? ["apt-get", args] : ["sudo", ["-n", "apt-get", ...args]];
  const result = spawnSync(cmd, cmdArgs, {
    encoding: "utf8",
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    maxBuffer: 64 * 1024 * 1024,
  });
  const output = `${result.error?.message ?? ""}${result.stdout ?? ""}${result.stderr ?? ""}`;
  return { ok: result.status === 0, output };
}

function tail(text: string, lines = 15): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/** Installs the Debian packages of every entry whose binary is missing. */
export async function ensureDebianPackages(pkgs: readonly DebianDependency[]): Promise<void> {
  let updated = false;
  for (const { bin, packages } of pkgs) {
    if (findBinary(bin) !== undefined) continue;
    console.log(`[system-deps] ${bin} not found: installing ${packages.join(" ")}`);
    const install = ["install", "-y", "--no-install-recommends", ...packages];
    let result = aptGet(install);
    // A fresh machine has no package lists yet; refresh them once, only when needed.
    if (!result.ok && !updated) {
      updated = true;
      const update = aptGet(["update"]);
      if (!update.ok) {
        throw new Error(`apt-get update failed while installing ${packages.join(" ")}:\n${tail(update.output)}`);
      }
      result = aptGet(install);
    }
    if (!result.ok) {
      throw new Error(`could not install ${packages.join(" ")} (needed for ${bin}):\n${tail(result.output)}`);
    }
    if (findBinary(bin) === undefined) {
      throw new Error(`installed ${packages.join(" ")} but ${bin} is still not found`);
    }
  }
}
