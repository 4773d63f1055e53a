/**
 * AndorSdk2 over the real Andor SDK2 library (libandor.so on Linux, atmcd64d.dll / atmcd32d.dll on Windows),
 * bound with koffi. Thin: one koffi function per C function, declared lazily on first use (so a library
 * lacking an optional symbol still loads), out-parameters through single-element arrays, image buffers as
 * Uint16Array passed in place.
 *
 * Types (atmcdLXd.h): on LP64 Linux `at_32` is int and `at_u32` unsigned int; on Windows (LLP64) they are
 * long / unsigned long, also 32-bit; so both are declared as 32-bit here. (Old Linux headers declared the
 * size of GetAcquiredData16 as `unsigned long`; on x86-64 a 32-bit argument in a 64-bit register slot is
 * read correctly for sizes below 2^32.) WINAPI (__stdcall) is added on Windows.
 *
 * Blocking calls (Initialize, ShutDown, WaitForAcquisitionTimeOut) run on koffi's worker threads so the event
 * loop keeps going; everything else is a direct call (~microseconds).
 */
import { openNativeLibrary, type KoffiFunction, type NativeLibrary } from "./native-library.ts";
import type { AndorSdk2, Out } from "./sdk.ts";

export interface LoadAndorSdk2Options {
  /** Path(s) of the library; default: $ANDOR_SDK2_LIBRARY, then the platform's usual names. */
  library?: string | readonly string[];
  /** Device name used in errors (default "andor-ixon"). */
  device?: string;
}

export const ANDOR_LIBRARY_DEFAULTS: Readonly<Record<string, readonly string[]>> = {
  linux: ["libandor.so", "libandor.so.2", "/usr/local/lib/libandor.so", "/usr/lib/libandor.so", "/opt/andor/lib/libandor.so"],
  win32: process.arch === "ia32" ? ["atmcd32d.dll", "C:\\Program Files\\Andor SDK\\atmcd32d.dll"] : ["atmcd64d.dll", "C:\\Program Files\\Andor SDK\\atmcd64d.dll"],
  darwin: ["libandor.dylib"],
};

/** C prototypes, exactly as the binding declares them (also used by the signature test). */
export const ANDOR_PROTOTYPES = {
  Initialize: "uint32_t Initialize(const char *dir)",
  ShutDown: "uint32_t ShutDown(void)",
  GetDetector: "uint32_t GetDetector(_Out_ int *xpixels, _Out_ int *ypixels)",
  GetPixelSize: "uint32_t GetPixelSize(_Out_ float *xSize, _Out_ float *ySize)",
  GetBitDepth: "uint32_t GetBitDepth(int channel, _Out_ int *depth)",
  GetHeadModel: "uint32_t GetHeadModel(char *name)",
  GetCameraSerialNumber: "uint32_t GetCameraSerialNumber(_Out_ int *number)",
  GetTemperatureRange: "uint32_t GetTemperatureRange(_Out_ int *mintemp, _Out_ int *maxtemp)",
  SetTemperature: "uint32_t SetTemperature(int temperature)",
  CoolerON: "uint32_t CoolerON(void)",
  CoolerOFF: "uint32_t CoolerOFF(void)",
  IsCoolerOn: "uint32_t IsCoolerOn(_Out_ int *iCoolerStatus)",
  GetTemperature: "uint32_t GetTemperature(_Out_ int *temperature)",
  GetTemperatureF: "uint32_t GetTemperatureF(_Out_ float *temperature)",
  SetReadMode: "uint32_t SetReadMode(int mode)",
  SetAcquisitionMode: "uint32_t SetAcquisitionMode(int mode)",
  SetNumberKinetics: "uint32_t SetNumberKinetics(int number)",
  SetKineticCycleTime: "uint32_t SetKineticCycleTime(float time)",
  SetImage: "uint32_t SetImage(int hbin, int vbin, int hstart, int hend, int vstart, int vend)",
  SetFrameTransferMode: "uint32_t SetFrameTransferMode(int mode)",
  GetNumberHSSpeeds: "uint32_t GetNumberHSSpeeds(int channel, int typ, _Out_ int *speeds)",
  GetHSSpeed: "uint32_t GetHSSpeed(int channel, int typ, int index, _Out_ float *speed)",
  SetHSSpeed: "uint32_t SetHSSpeed(int typ, int index)",
  GetNumberVSSpeeds: "uint32_t GetNumberVSSpeeds(_Out_ int *speeds)",
  GetVSSpeed: "uint32_t GetVSSpeed(int index, _Out_ float *speed)",
  GetFastestRecommendedVSSpeed: "uint32_t GetFastestRecommendedVSSpeed(_Out_ int *index, _Out_ float *speed)",
  SetVSSpeed: "uint32_t SetVSSpeed(int index)",
  GetNumberPreAmpGains: "uint32_t GetNumberPreAmpGains(_Out_ int *noGains)",
  SetPreAmpGain: "uint32_t SetPreAmpGain(int index)",
  SetEMGainMode: "uint32_t SetEMGainMode(int mode)",
  GetEMGainRange: "uint32_t GetEMGainRange(_Out_ int *low, _Out_ int *high)",
  SetEMCCDGain: "uint32_t SetEMCCDGain(int gain)",
  SetExposureTime: "uint32_t SetExposureTime(float time)",
  SetShutter: "uint32_t SetShutter(int typ, int mode, int closingtime, int openingtime)",
  SetTriggerMode: "uint32_t SetTriggerMode(int mode)",
  GetAcquisitionTimings: "uint32_t GetAcquisitionTimings(_Out_ float *exposure, _Out_ float *accumulate, _Out_ float *kinetic)",
  GetReadOutTime: "uint32_t GetReadOutTime(_Out_ float *ReadOutTime)",
  GetKeepCleanTime: "uint32_t GetKeepCleanTime(_Out_ float *KeepCleanTime)",
  StartAcquisition: "uint32_t StartAcquisition(void)",
  AbortAcquisition: "uint32_t AbortAcquisition(void)",
  SendSoftwareTrigger: "uint32_t SendSoftwareTrigger(void)",
  GetStatus: "uint32_t GetStatus(_Out_ int *status)",
  WaitForAcquisitionTimeOut: "uint32_t WaitForAcquisitionTimeOut(int iTimeOutMs)",
  CancelWait: "uint32_t CancelWait(void)",
  GetNumberNewImages: "uint32_t GetNumberNewImages(_Out_ int32_t *first, _Out_ int32_t *last)",
  GetImages16: "uint32_t GetImages16(int32_t first, int32_t last, _Out_ uint16_t *arr, uint32_t size, _Out_ int32_t *validfirst, _Out_ int32_t *validlast)",
  GetAcquiredData16: "uint32_t GetAcquiredData16(_Out_ uint16_t *arr, uint32_t size)",
  GetMostRecentImage16: "uint32_t GetMostRecentImage16(_Out_ uint16_t *arr, uint32_t size)",
} as const;

type Name = keyof typeof ANDOR_PROTOTYPES;

/** Size of the GetHeadModel buffer (MAX_PATH in the SDK examples). */
const HEAD_MODEL_LEN = 260;

/** Load the Andor SDK2 library. Rejects with a NativeLibraryError (code "LIBRARY_NOT_FOUND") naming every path tried. */
export async function loadAndorSdk2(o: LoadAndorSdk2Options | string = {}): Promise<AndorSdk2> {
  const opts = typeof o === "string" ? { library: o } : o;
  const device = opts.device ?? "andor-ixon";
  const lib = await openNativeLibrary({
    device,
    library: "Andor SDK2 library (libandor.so / atmcd64d.dll)",
    explicit: opts.library,
    envVar: "ANDOR_SDK2_LIBRARY",
    defaults: ANDOR_LIBRARY_DEFAULTS[process.platform] ?? ["libandor.so"],
    hint: "Install the Andor SDK2 (it provides libandor / atmcd), pass { library: '/path/to/libandor.so' }, or set ANDOR_SDK2_LIBRARY; for tests use the SDK twin (createAndorSdkTwin).",
  });
  return new AndorSdk2Ffi(lib);
}

class AndorSdk2Ffi implements AndorSdk2 {
  readonly description: string;
  private readonly fns = new Map<Name, KoffiFunction>();

  constructor(private readonly lib: NativeLibrary) {
    this.description = `Andor SDK2 (${lib.path})`;
  }

  private f(name: Name): KoffiFunction {
    let fn = this.fns.get(name);
    if (!fn) {
      fn = this.lib.func(name, ANDOR_PROTOTYPES[name]);
      this.fns.set(name, fn);
    }
    return fn;
  }

  private code(name: Name, ...args: unknown[]): Promise<number> {
    try {
      return Promise.resolve(this.f(name)(...args) as number);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  private out1(name: Name, ...args: unknown[]): Promise<Out<number>> {
    try {
      const o: number[] = [0];
      const code = this.f(name)(...args, o) as number;
      return Promise.resolve({ code, value: o[0] });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  private out2(name: Name, ...args: unknown[]): Promise<{ code: number; a: number; b: number }> {
    try {
      const a: number[] = [0];
      const b: number[] = [0];
      const code = this.f(name)(...args, a, b) as number;
      return Promise.resolve({ code, a: a[0], b: b[0] });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  Initialize(dir: string): Promise<number> {
    return this.lib.async<number>(this.f("Initialize"), dir);
  }
  ShutDown(): Promise<number> {
    return this.lib.async<number>(this.f("ShutDown"));
  }
  async GetDetector() {
    const r = await this.out2("GetDetector");
    return { code: r.code, value: { xpixels: r.a, ypixels: r.b } };
  }
  async GetPixelSize() {
    const r = await this.out2("GetPixelSize");
    return { code: r.code, value: { xSize: r.a, ySize: r.b } };
  }
  GetBitDepth(channel: number) {
    return this.out1("GetBitDepth", channel);
  }
  async GetHeadModel(): Promise<Out<string>> {
    const buf = Buffer.alloc(HEAD_MODEL_LEN);
    const code = (await this.code("GetHeadModel", buf)) as number;
    const end = buf.indexOf(0);
    return { code, value: buf.toString("latin1", 0, end < 0 ? buf.length : end) };
  }
  GetCameraSerialNumber() {
    return this.out1("GetCameraSerialNumber");
  }
  async GetTemperatureRange() {
    const r = await this.out2("GetTemperatureRange");
    return { code: r.code, value: { mintemp: r.a, maxtemp: r.b } };
  }
  SetTemperature(t: number) {
    return this.code("SetTemperature", t);
  }
  CoolerON() {
    return this.code("CoolerON");
  }
  CoolerOFF() {
    return this.code("CoolerOFF");
  }
  IsCoolerOn() {
    return this.out1("IsCoolerOn");
  }
  GetTemperature() {
    return this.out1("GetTemperature");
  }
  GetTemperatureF() {
    return this.out1("GetTemperatureF");
  }
  SetReadMode(mode: number) {
    return this.code("SetReadMode", mode);
  }
  SetAcquisitionMode(mode: number) {
    return this.code("SetAcquisitionMode", mode);
  }
  SetNumberKinetics(n: number) {
    return this.code("SetNumberKinetics", n);
  }
  SetKineticCycleTime(t: number) {
    return this.code("SetKineticCycleTime", t);
  }
  SetImage(hbin: number, vbin: number, hstart: number, hend: number, vstart: number, vend: number) {
    return this.code("SetImage", hbin, vbin, hstart, hend, vstart, vend);
  }
  SetFrameTransferMode(mode: number) {
    return this.code("SetFrameTransferMode", mode);
  }
  GetNumberHSSpeeds(channel: number, typ: number) {
    return this.out1("GetNumberHSSpeeds", channel, typ);
  }
  GetHSSpeed(channel: number, typ: number, index: number) {
    return this.out1("GetHSSpeed", channel, typ, index);
  }
  SetHSSpeed(typ: number, index: number) {
    return this.code("SetHSSpeed", typ, index);
  }
  GetNumberVSSpeeds() {
    return this.out1("GetNumberVSSpeeds");
  }
  GetVSSpeed(index: number) {
    return this.out1("GetVSSpeed", index);
  }
  async GetFastestRecommendedVSSpeed() {
    const r = await this.out2("GetFastestRecommendedVSSpeed");
    return { code: r.code, value: { index: r.a, speed: r.b } };
  }
  SetVSSpeed(index: number) {
    return this.code("SetVSSpeed", index);
  }
  GetNumberPreAmpGains() {
    return this.out1("GetNumberPreAmpGains");
  }
  SetPreAmpGain(index: number) {
    return this.code("SetPreAmpGain", index);
  }
  SetEMGainMode(mode: number) {
    return this.code("SetEMGainMode", mode);
  }
  async GetEMGainRange() {
    const r = await this.out2("GetEMGainRange");
    return { code: r.code, value: { low: r.a, high: r.b } };
  }
  SetEMCCDGain(gain: number) {
    return this.code("SetEMCCDGain", gain);
  }
  SetExposureTime(t: number) {
    return this.code("SetExposureTime", t);
  }
  SetShutter(typ: number, mode: number, closingtime: number, openingtime: number) {
    return this.code("SetShutter", typ, mode, closingtime, openingtime);
  }
  SetTriggerMode(mode: number) {
    return this.code("SetTriggerMode", mode);
  }
  async GetAcquisitionTimings() {
    const e: number[] = [0],
      a: number[] = [0],
      k: number[] = [0];
    const code = (await this.code("GetAcquisitionTimings", e, a, k)) as number;
    return { code, value: { exposure: e[0], accumulate: a[0], kinetic: k[0] } };
  }
  GetReadOutTime() {
    return this.out1("GetReadOutTime");
  }
  GetKeepCleanTime() {
    return this.out1("GetKeepCleanTime");
  }
  StartAcquisition() {
    return this.code("StartAcquisition");
  }
  AbortAcquisition() {
    return this.code("AbortAcquisition");
  }
  SendSoftwareTrigger() {
    return this.code("SendSoftwareTrigger");
  }
  GetStatus() {
    return this.out1("GetStatus");
  }
  WaitForAcquisitionTimeOut(ms: number): Promise<number> {
    return this.lib.async<number>(this.f("WaitForAcquisitionTimeOut"), Math.max(0, Math.round(ms)));
  }
  CancelWait() {
    return this.code("CancelWait");
  }
  async GetNumberNewImages() {
    const r = await this.out2("GetNumberNewImages");
    return { code: r.code, value: { first: r.a, last: r.b } };
  }
  async GetImages16(first: number, last: number, arr: Uint16Array, size: number) {
    checkSize(arr, size);
    const vf: number[] = [0],
      vl: number[] = [0];
    const code = (await this.code("GetImages16", first, last, arr, size, vf, vl)) as number;
    return { code, value: { validfirst: vf[0], validlast: vl[0] } };
  }
  async GetAcquiredData16(arr: Uint16Array, size: number) {
    checkSize(arr, size);
    return this.code("GetAcquiredData16", arr, size);
  }
  async GetMostRecentImage16(arr: Uint16Array, size: number) {
    checkSize(arr, size);
    return this.code("GetMostRecentImage16", arr, size);
  }
}

/** The C side trusts `size`: never let it exceed the buffer. */
function checkSize(arr: Uint16Array, size: number): void {
  if (!(Number.isInteger(size) && size >= 0 && size <= arr.length)) throw new RangeError(`size ${size} does not fit the ${arr.length}-pixel buffer`);
}
