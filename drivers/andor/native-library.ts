/**
 * Loading a vendor C library with koffi, shared by the Andor SDK2 and PVCAM bindings.
 *
 * koffi itself is imported dynamically here, so importing a driver module never loads native code: only
 * `openNativeLibrary` (called from a driver's connect()) does. A missing library gives a NativeLibraryError
 * naming the library and every path tried with the loader's reason.
 */
import { DeviceError } from "../../runtime/devices/common.ts";

type Koffi = typeof import("koffi");
type KoffiLib = ReturnType<Koffi["load"]>;
export type KoffiFunction = ReturnType<KoffiLib["func"]>;

export class NativeLibraryError extends DeviceError {
  constructor(
    device: string,
    readonly library: string,
    readonly tried: ReadonlyArray<{ path: string; reason: string }>,
    hint: string,
  ) {
    super(
      `${device}: cannot load the ${library}; tried ${tried.map((t) => `"${t.path}" (${t.reason})`).join(", ") || "no paths"}. ${hint}`,
      device,
      "LIBRARY_NOT_FOUND",
      "LIBRARY_NOT_FOUND",
    );
    this.name = "NativeLibraryError";
  }
}

export interface NativeLibrarySpec {
  /** Device name used in errors, e.g. "andor-ixon". */
  device: string;
  /** Human name of the library, e.g. "Andor SDK2 library (libandor.so / atmcd64d.dll)". */
  library: string;
  /** Explicit path(s): when given, only these are tried. */
  explicit?: string | readonly string[];
  /** Environment variable holding a path (tried before the defaults). */
  envVar: string;
  /** Default names/paths for this platform, in order. */
  defaults: readonly string[];
  /** Sentence appended to the error. */
  hint: string;
}

export interface NativeLibrary {
  readonly path: string;
  readonly koffi: Koffi;
  /** Declare a function from a C prototype; `__stdcall` is added on Windows. Missing symbols throw a DeviceError. */
  func(name: string, prototype: string): KoffiFunction;
  /** Call a function on a koffi worker thread (does not block the event loop). */
  async<T>(f: KoffiFunction, ...args: unknown[]): Promise<T>;
}

let koffiModule: Koffi | undefined;

async function loadKoffi(device: string): Promise<Koffi> {
  if (koffiModule) return koffiModule;
  try {
    const m = (await import("koffi")) as unknown as { default?: Koffi } & Koffi;
    koffiModule = m.default ?? m;
    return koffiModule;
  } catch (e) {
    throw new DeviceError(`${device}: the koffi FFI module cannot be loaded (${(e as Error).message})`, device, "FFI_UNAVAILABLE", "FFI_UNAVAILABLE");
  }
}

/** The candidate paths in the order they are tried. */
export function libraryCandidates(spec: Pick<NativeLibrarySpec, "explicit" | "envVar" | "defaults">, env: Record<string, string | undefined> = process.env): string[] {
  if (spec.explicit !== undefined) return typeof spec.explicit === "string" ? [spec.explicit] : [...spec.explicit];
  const fromEnv = env[spec.envVar];
  return [...(fromEnv ? [fromEnv] : []), ...spec.defaults];
}

export async function openNativeLibrary(spec: NativeLibrarySpec): Promise<NativeLibrary> {
  const koffi = await loadKoffi(spec.device);
  const tried: Array<{ path: string; reason: string }> = [];
  for (const path of libraryCandidates(spec)) {
    let lib: KoffiLib;
    try {
      lib = koffi.load(path);
    } catch (e) {
      tried.push({ path, reason: firstLine((e as Error).message) });
      continue;
    }
    const stdcall = process.platform === "win32" ? "__stdcall " : "";
    return {
      path,
      koffi,
      func(name, prototype) {
        // "unsigned int GetStatus(int *status)" -> "unsigned int __stdcall GetStatus(int *status)"
        const proto = stdcall ? prototype.replace(new RegExp(`\\b${name}\\s*\\(`), `${stdcall}${name}(`) : prototype;
        try {
          return lib.func(proto);
        } catch (e) {
          throw new DeviceError(`${spec.device}: function ${name} not usable in ${path}: ${firstLine((e as Error).message)}`, spec.device, "SYMBOL_NOT_FOUND", "SYMBOL_NOT_FOUND");
        }
      },
      async<T>(f: KoffiFunction, ...args: unknown[]): Promise<T> {
        return new Promise<T>((resolve, reject) => {
          f.async(...args, (err: unknown, res: T) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(res)));
        });
      },
    };
  }
  throw new NativeLibraryError(spec.device, spec.library, tried, spec.hint);
}

function firstLine(s: string): string {
  return s.split("\n")[0].trim();
}
