/**
 * The Andor SDK2 functions the driver uses, one TypeScript method per C function (same name, same argument
 * order, out-parameters turned into results). Implemented by the real library (`ffi.ts`, koffi) and by the
 * SDK twin (`simulators/sdk/andor/`).
 *
 * Shapes:
 * - a function without out-parameters resolves to its raw return code (20002 = DRV_SUCCESS);
 * - a function with out-parameters resolves to `{ code, value }`; `value` is the out-parameter (or an object
 *   of them, named as in the SDK manual) and is only meaningful when `code` says so (DRV_SUCCESS, or one of
 *   the temperature states for GetTemperature/GetTemperatureF);
 * - array out-parameters are caller-allocated `Uint16Array`s filled in place; `size` is passed as in C
 *   (number of pixels).
 *
 * All methods are async: the real binding runs the blocking ones (Initialize, ShutDown,
 * WaitForAcquisitionTimeOut) on koffi's worker threads; the twin models their duration on its clock.
 * Calls must be serialised by the caller (the SDK is not thread-safe); CancelWait is the exception: it is
 * meant to be called while WaitForAcquisitionTimeOut blocks.
 */

export interface Out<T> {
  code: number;
  value: T;
}

export interface AndorSdk2 {
  /** What this binding talks to, e.g. "libandor.so (/usr/local/lib/libandor.so)" or "Andor SDK2 twin". */
  readonly description: string;
  /** True for the SDK twin (reported in DeviceInfo.simulated). */
  readonly simulated?: boolean;

  // ---- life cycle / identity ----
  /** `unsigned int Initialize(char* dir)`: dir holds DETECTOR.INI / firmware. */
  Initialize(dir: string): Promise<number>;
  /** `unsigned int ShutDown(void)` */
  ShutDown(): Promise<number>;
  /** `unsigned int GetDetector(int* xpixels, int* ypixels)` */
  GetDetector(): Promise<Out<{ xpixels: number; ypixels: number }>>;
  /** `unsigned int GetPixelSize(float* xSize, float* ySize)` (micrometres) */
  GetPixelSize(): Promise<Out<{ xSize: number; ySize: number }>>;
  /** `unsigned int GetBitDepth(int channel, int* depth)` */
  GetBitDepth(channel: number): Promise<Out<number>>;
  /** `unsigned int GetHeadModel(char* name)` */
  GetHeadModel(): Promise<Out<string>>;
  /** `unsigned int GetCameraSerialNumber(int* number)` */
  GetCameraSerialNumber(): Promise<Out<number>>;

  // ---- cooling ----
  /** `unsigned int GetTemperatureRange(int* mintemp, int* maxtemp)` */
  GetTemperatureRange(): Promise<Out<{ mintemp: number; maxtemp: number }>>;
  /** `unsigned int SetTemperature(int temperature)` */
  SetTemperature(temperature: number): Promise<number>;
  /** `unsigned int CoolerON(void)` */
  CoolerON(): Promise<number>;
  /** `unsigned int CoolerOFF(void)` */
  CoolerOFF(): Promise<number>;
  /** `unsigned int IsCoolerOn(int* iCoolerStatus)` */
  IsCoolerOn(): Promise<Out<number>>;
  /** `unsigned int GetTemperature(int* temperature)`: code is a temperature state (20034-20040) */
  GetTemperature(): Promise<Out<number>>;
  /** `unsigned int GetTemperatureF(float* temperature)`: code is a temperature state (20034-20040) */
  GetTemperatureF(): Promise<Out<number>>;

  // ---- read-out set-up ----
  /** `unsigned int SetReadMode(int mode)`: 0 FVB, 1 multi-track, 2 random track, 3 single track, 4 image */
  SetReadMode(mode: number): Promise<number>;
  /** `unsigned int SetAcquisitionMode(int mode)`: 1 single, 2 accumulate, 3 kinetics, 4 fast kinetics, 5 run till abort */
  SetAcquisitionMode(mode: number): Promise<number>;
  /** `unsigned int SetNumberKinetics(int number)` */
  SetNumberKinetics(number: number): Promise<number>;
  /** `unsigned int SetKineticCycleTime(float time)` (s; 0 = fastest) */
  SetKineticCycleTime(time: number): Promise<number>;
  /** `unsigned int SetImage(int hbin, int vbin, int hstart, int hend, int vstart, int vend)` (1-based, inclusive) */
  SetImage(hbin: number, vbin: number, hstart: number, hend: number, vstart: number, vend: number): Promise<number>;
  /** `unsigned int SetFrameTransferMode(int mode)` */
  SetFrameTransferMode(mode: number): Promise<number>;
  /** `unsigned int GetNumberHSSpeeds(int channel, int typ, int* speeds)`: typ 0 EM, 1 conventional */
  GetNumberHSSpeeds(channel: number, typ: number): Promise<Out<number>>;
  /** `unsigned int GetHSSpeed(int channel, int typ, int index, float* speed)` (MHz) */
  GetHSSpeed(channel: number, typ: number, index: number): Promise<Out<number>>;
  /** `unsigned int SetHSSpeed(int typ, int index)` */
  SetHSSpeed(typ: number, index: number): Promise<number>;
  /** `unsigned int GetNumberVSSpeeds(int* speeds)` */
  GetNumberVSSpeeds(): Promise<Out<number>>;
  /** `unsigned int GetVSSpeed(int index, float* speed)` (microseconds per row) */
  GetVSSpeed(index: number): Promise<Out<number>>;
  /** `unsigned int GetFastestRecommendedVSSpeed(int* index, float* speed)` */
  GetFastestRecommendedVSSpeed(): Promise<Out<{ index: number; speed: number }>>;
  /** `unsigned int SetVSSpeed(int index)` */
  SetVSSpeed(index: number): Promise<number>;
  /** `unsigned int GetNumberPreAmpGains(int* noGains)` */
  GetNumberPreAmpGains(): Promise<Out<number>>;
  /** `unsigned int SetPreAmpGain(int index)` */
  SetPreAmpGain(index: number): Promise<number>;
  /** `unsigned int SetEMGainMode(int mode)`: 0 DAC 0-255, 1 DAC 0-4095, 2 linear, 3 real EM gain */
  SetEMGainMode(mode: number): Promise<number>;
  /** `unsigned int GetEMGainRange(int* low, int* high)` (in the units of the current EM gain mode) */
  GetEMGainRange(): Promise<Out<{ low: number; high: number }>>;
  /** `unsigned int SetEMCCDGain(int gain)` */
  SetEMCCDGain(gain: number): Promise<number>;
  /** `unsigned int SetExposureTime(float time)` (s) */
  SetExposureTime(time: number): Promise<number>;
  /** `unsigned int SetShutter(int typ, int mode, int closingtime, int openingtime)`: mode 0 auto, 1 open, 2 closed; times ms */
  SetShutter(typ: number, mode: number, closingtime: number, openingtime: number): Promise<number>;
  /** `unsigned int SetTriggerMode(int mode)`: 0 internal, 1 external, 6 external start, 7 external exposure, 10 software */
  SetTriggerMode(mode: number): Promise<number>;
  /** `unsigned int GetAcquisitionTimings(float* exposure, float* accumulate, float* kinetic)`: the values really applied */
  GetAcquisitionTimings(): Promise<Out<{ exposure: number; accumulate: number; kinetic: number }>>;
  /** `unsigned int GetReadOutTime(float* ReadOutTime)` (s) */
  GetReadOutTime(): Promise<Out<number>>;
  /**
   * `unsigned int GetKeepCleanTime(float* KeepCleanTime)` (s): one keep-clean cycle with the current settings (valid
   * once the acquisition settings are set). At most one runs between StartAcquisition and the exposure; the driver
   * counts it whole, so its release point is never early. Not in every SDK2 release: the driver copes without.
   */
  GetKeepCleanTime(): Promise<Out<number>>;

  // ---- acquisition ----
  /** `unsigned int StartAcquisition(void)` */
  StartAcquisition(): Promise<number>;
  /** `unsigned int AbortAcquisition(void)`: DRV_IDLE when nothing was running */
  AbortAcquisition(): Promise<number>;
  /** `unsigned int SendSoftwareTrigger(void)` */
  SendSoftwareTrigger(): Promise<number>;
  /** `unsigned int GetStatus(int* status)`: value DRV_IDLE, DRV_ACQUIRING, DRV_TEMPCYCLE or an acquisition failure */
  GetStatus(): Promise<Out<number>>;
  /** `unsigned int WaitForAcquisitionTimeOut(int iTimeOutMs)`: DRV_SUCCESS on an acquisition event, DRV_NO_NEW_DATA on timeout / CancelWait */
  WaitForAcquisitionTimeOut(iTimeOutMs: number): Promise<number>;
  /** `unsigned int CancelWait(void)` */
  CancelWait(): Promise<number>;
  /** `unsigned int GetNumberNewImages(at_32* first, at_32* last)` (1-based image indices since StartAcquisition) */
  GetNumberNewImages(): Promise<Out<{ first: number; last: number }>>;
  /** `unsigned int GetImages16(at_32 first, at_32 last, WORD* arr, at_u32 size, at_32* validfirst, at_32* validlast)` */
  GetImages16(first: number, last: number, arr: Uint16Array, size: number): Promise<Out<{ validfirst: number; validlast: number }>>;
  /** `unsigned int GetAcquiredData16(WORD* arr, at_u32 size)`: the whole last acquisition */
  GetAcquiredData16(arr: Uint16Array, size: number): Promise<number>;
  /** `unsigned int GetMostRecentImage16(WORD* arr, at_u32 size)` */
  GetMostRecentImage16(arr: Uint16Array, size: number): Promise<number>;
}

/** The C functions of AndorSdk2, for bindings and fault injection. */
export const ANDOR_SDK2_FUNCTIONS = [
  "Initialize",
  "ShutDown",
  "GetDetector",
  "GetPixelSize",
  "GetBitDepth",
  "GetHeadModel",
  "GetCameraSerialNumber",
  "GetTemperatureRange",
  "SetTemperature",
  "CoolerON",
  "CoolerOFF",
  "IsCoolerOn",
  "GetTemperature",
  "GetTemperatureF",
  "SetReadMode",
  "SetAcquisitionMode",
  "SetNumberKinetics",
  "SetKineticCycleTime",
  "SetImage",
  "SetFrameTransferMode",
  "GetNumberHSSpeeds",
  "GetHSSpeed",
  "SetHSSpeed",
  "GetNumberVSSpeeds",
  "GetVSSpeed",
  "GetFastestRecommendedVSSpeed",
  "SetVSSpeed",
  "GetNumberPreAmpGains",
  "SetPreAmpGain",
  "SetEMGainMode",
  "GetEMGainRange",
  "SetEMCCDGain",
  "SetExposureTime",
  "SetShutter",
  "SetTriggerMode",
  "GetAcquisitionTimings",
  "GetReadOutTime",
  "GetKeepCleanTime",
  "StartAcquisition",
  "AbortAcquisition",
  "SendSoftwareTrigger",
  "GetStatus",
  "WaitForAcquisitionTimeOut",
  "CancelWait",
  "GetNumberNewImages",
  "GetImages16",
  "GetAcquiredData16",
  "GetMostRecentImage16",
] as const satisfies ReadonlyArray<Exclude<keyof AndorSdk2, "description" | "simulated">>;

export type AndorSdk2Function = (typeof ANDOR_SDK2_FUNCTIONS)[number];

/** SDK2 constants the driver uses. */
export const READ_MODE = { FVB: 0, MULTI_TRACK: 1, RANDOM_TRACK: 2, SINGLE_TRACK: 3, IMAGE: 4 } as const;
export const ACQ_MODE = { SINGLE: 1, ACCUMULATE: 2, KINETICS: 3, FAST_KINETICS: 4, RUN_TILL_ABORT: 5 } as const;
export const TRIGGER = { INTERNAL: 0, EXTERNAL: 1, EXTERNAL_START: 6, EXTERNAL_EXPOSURE: 7, SOFTWARE: 10 } as const;
export const SHUTTER_MODE = { AUTO: 0, OPEN: 1, CLOSED: 2 } as const;
export const EM_GAIN_MODE = { DAC_255: 0, DAC_4095: 1, LINEAR: 2, REAL: 3 } as const;
export const AMPLIFIER = { EM: 0, CONVENTIONAL: 1 } as const;
