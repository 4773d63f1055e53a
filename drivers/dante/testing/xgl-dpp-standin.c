/*
 * A tiny stand-in for libXGL_DPP, compiled by drivers/dante/ffi.test.ts with `cc -shared -fPIC -pthread`.
 * It exports a few functions with exactly the signatures drivers/dante/ffi.ts declares (C++ references as
 * pointers, the configuration struct BY VALUE, output arrays) and answers asynchronous calls from its own
 * pthread, like the real library. It echoes what it received so the test can check the marshalling.
 * Not a simulator: the DANTE twin lives in simulators/sdk/dante/.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct configuration {
  uint32_t fast_filter_thr;
  uint32_t energy_filter_thr;
  uint32_t energy_baseline_thr;
  double max_risetime;
  double gain;
  uint32_t peaking_time;
  uint32_t max_peaking_time;
  uint32_t flat_top;
  uint32_t edge_peaking_time;
  uint32_t edge_flat_top;
  uint32_t reset_recovery_time;
  double zero_peak_freq;
  uint32_t baseline_samples;
  bool inverted_input;
  double time_constant;
  uint32_t base_offset;
  uint32_t overflow_recovery;
  uint32_t reset_threshold;
  double tail_coefficient;
  uint32_t other_param;
};

struct statistics {
  uint64_t real_time;
  uint64_t live_time;
  double ICR;
  double OCR;
  uint64_t last_timestamp;
  uint32_t detected;
  uint32_t measured;
  uint32_t edge_dt;
  uint32_t filt1_dt;
  uint32_t zerocounts;
  uint32_t baselines_value;
  uint32_t pup_value;
  uint32_t pup_f1_value;
  uint32_t pup_notf1_value;
  uint32_t reset_counter_value;
};

typedef void (*answer_cb)(uint16_t type, uint32_t call_id, uint32_t length, uint32_t *data);

static const char *ID = "DANTE-STANDIN-42";
static uint16_t last_error = 0;
static int initialised = 0;
static uint32_t next_call = 0;
static answer_cb callback = NULL;

struct answer {
  uint16_t type;
  uint32_t call_id;
  uint32_t length;
  uint32_t data[16];
};

static void *answer_thread(void *p) {
  struct answer a = *(struct answer *)p;
  free(p);
  struct timespec ts = {0, 2000000};
  nanosleep(&ts, NULL);
  /* data lives on THIS thread's stack: valid only during the call, as with the real library */
  uint32_t data[16];
  memcpy(data, a.data, sizeof data);
  if (callback) callback(a.type, a.call_id, a.length, data);
  return NULL;
}

static uint32_t answer_later(uint16_t type, uint32_t length, const uint32_t *data) {
  struct answer *a = calloc(1, sizeof *a);
  a->type = type;
  a->call_id = ++next_call;
  a->length = length;
  memcpy(a->data, data, length * sizeof(uint32_t));
  uint32_t id = a->call_id;
  pthread_t t;
  pthread_create(&t, NULL, answer_thread, a);
  pthread_detach(t);
  return id;
}

static int check_id(const char *identifier) {
  if (!initialised) { last_error = 4; return 0; }
  if (!identifier || strcmp(identifier, ID) != 0) { last_error = 62; return 0; }
  return 1;
}

bool InitLibrary(void) { initialised = 1; last_error = 0; return true; }
bool CloseLibrary(void) { initialised = 0; return true; }
bool getLastError(uint16_t *code) { *code = last_error; return true; }
bool resetLastError(void) { last_error = 0; return true; }

bool libVersion(char *version, uint32_t *size) {
  const char *v = "standin-3.2.1";
  if (*size < strlen(v) + 1) { last_error = 5; *size = strlen(v) + 1; return false; }
  strcpy(version, v);
  *size = strlen(v) + 1;
  return true;
}

bool get_dev_number(uint16_t *devs) {
  if (!initialised) { last_error = 4; return false; }
  *devs = 1;
  return true;
}

bool get_ids(char *identifier, uint16_t *nb, uint16_t *id_size) {
  if (!initialised) { last_error = 4; return false; }
  if (*nb != 0) { last_error = 60; return false; }
  if (*id_size < strlen(ID) + 1) { last_error = 5; return false; }
  strcpy(identifier, ID);
  *id_size = strlen(ID) + 1;
  return true;
}

bool get_boards_in_chain(const char *identifier, uint16_t *devs) {
  if (!check_id(identifier)) return false;
  *devs = 1;
  return true;
}

bool register_callback(answer_cb cb) { callback = cb; return true; }

uint32_t configure(const char *identifier, uint16_t board, const struct configuration cfg) {
  if (!check_id(identifier)) return 0;
  if (board != 0) { last_error = 60; return 0; }
  uint32_t d[12] = {
    1, cfg.peaking_time, cfg.flat_top, (uint32_t)(cfg.gain * 1000.0 + 0.5), cfg.inverted_input ? 1u : 0u,
    (uint32_t)(cfg.tail_coefficient * 1000.0 + 0.5), cfg.other_param, cfg.reset_recovery_time,
    (uint32_t)(cfg.zero_peak_freq * 1000.0 + 0.5), cfg.baseline_samples, cfg.fast_filter_thr,
    (uint32_t)(cfg.time_constant * 1000.0 + 0.5),
  };
  return answer_later(2, 12, d);
}

uint32_t start(const char *identifier, const double time, const uint16_t spect_depth) {
  if (!check_id(identifier)) return 0;
  if (spect_depth != 1024 && spect_depth != 2048 && spect_depth != 4096) { last_error = 60; return 0; }
  uint32_t d[3] = {1, (uint32_t)(time * 1e6 + 0.5), spect_depth};
  return answer_later(2, 3, d);
}

uint32_t isRunning_system(const char *identifier, uint16_t board) {
  if (!check_id(identifier)) return 0;
  uint32_t d[1] = {0};
  (void)board;
  return answer_later(1, 1, d);
}

bool isLastDataReceived(const char *identifier, uint16_t board, bool *last) {
  if (!check_id(identifier)) return false;
  (void)board;
  *last = true;
  return true;
}

bool getData(const char *identifier, uint16_t board, uint64_t *values, uint32_t *id, struct statistics *stats, uint32_t *spectra_size) {
  if (!check_id(identifier)) return false;
  for (uint32_t i = 0; i < *spectra_size; i++) values[i] = (uint64_t)i * 3u + board;
  values[0] = 5000000000ull; /* does not fit 32 bits */
  *id = 7;
  stats->real_time = 1000000;
  stats->live_time = 900000;
  stats->ICR = 12.5;
  stats->OCR = 11.25;
  stats->last_timestamp = 1ull << 40;
  stats->detected = 12500;
  stats->measured = 11250;
  stats->edge_dt = 3;
  stats->filt1_dt = 4;
  stats->zerocounts = 5;
  stats->baselines_value = 6;
  stats->pup_value = 7;
  stats->pup_f1_value = 8;
  stats->pup_notf1_value = 9;
  stats->reset_counter_value = 15;
  return true;
}

bool getAllData(const char *identifier, uint16_t board, uint16_t *values, uint32_t *ids, double *stats, uint64_t *advstats, uint32_t *spectra_size, uint32_t *data_number) {
  if (!check_id(identifier)) return false;
  (void)board;
  uint32_t n = *data_number < 3 ? *data_number : 3; /* at most 3 available */
  for (uint32_t k = 0; k < n; k++) {
    for (uint32_t i = 0; i < *spectra_size; i++) values[k * *spectra_size + i] = (uint16_t)(k * 100u + i);
    ids[k] = k + 1;
    stats[4 * k + 0] = 1000.0 * (k + 1);
    stats[4 * k + 1] = 900.0 * (k + 1);
    stats[4 * k + 2] = 2.5;
    stats[4 * k + 3] = 2.25;
    for (uint32_t j = 0; j < 24; j++) advstats[24 * k + j] = (uint64_t)k * 1000u + j;
  }
  *data_number = n;
  return true;
}

/* Layout probes for the test: what this C compiler made of the structs. */
#include <stddef.h>
uint32_t standin_layout(int which) {
  switch (which) {
    case 0: return (uint32_t)sizeof(struct configuration);
    case 1: return (uint32_t)sizeof(struct statistics);
    case 2: return (uint32_t)offsetof(struct configuration, inverted_input);
    case 3: return (uint32_t)offsetof(struct configuration, time_constant);
    case 4: return (uint32_t)offsetof(struct configuration, other_param);
    case 5: return (uint32_t)offsetof(struct statistics, detected);
    default: return 0;
  }
}
