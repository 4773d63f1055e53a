/** Benchmark player: an empty action. */
export function action(): void {}
