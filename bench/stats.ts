/** Summary statistics for benchmark samples. */

/** The value below which `fraction` of the sorted samples lie, by the nearest-rank method. */
export function percentile(samples: ArrayLike<number>, fraction: number): number {
  if (samples.length === 0) {
    return Number.NaN;
  }
  const sorted = Array.from(samples).sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil(fraction * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

export interface Spread {
  median: number;
  min: number;
  max: number;
}

/** Median and range of a set of runs. The median of an even count is the mean of the two middle runs. */
export function spread(values: number[]): Spread {
  if (values.length === 0) {
    return { median: Number.NaN, min: Number.NaN, max: Number.NaN };
  }
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1] };
}

/** Formats a number with a fixed count of decimals, or "n/a" for NaN. */
export function fixed(value: number, decimals = 0): string {
  return Number.isNaN(value) ? "n/a" : value.toFixed(decimals);
}

/** "median (min–max)" with the same decimals for all three. */
export function formatSpread(values: number[], decimals = 0, unit = ""): string {
  const { median, min, max } = spread(values);
  return `${fixed(median, decimals)}${unit} (${fixed(min, decimals)}–${fixed(max, decimals)})`;
}
