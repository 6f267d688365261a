// A seeded pseudo-random generator for tests that draw random workloads, faults or inputs. The same
// seed gives the same sequence of draws, so a failing run can be replayed with its seed.
import { randomInt } from "node:crypto";

/** sfc32, seeded through splitmix32. Not for cryptography: only to make test data reproducible. */
export class SeededRandom {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(readonly seed: number) {
    let state = seed >>> 0;
    const splitmix = (): number => {
      state = (state + 0x9e3779b9) >>> 0;
      let z = state;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = splitmix();
    this.b = splitmix();
    this.c = splitmix();
    this.d = splitmix();
    // The first outputs of sfc32 still depend visibly on the seed; drop them.
    for (let i = 0; i < 12; i++) {
      this.next();
    }
  }

  /** A float in [0, 1). */
  next(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t / 4294967296;
  }

  /** An integer from min to max, both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** A float from min (included) to max (excluded). */
  between(min: number, max: number): number {
    return min + this.next() * (max - min);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) {
      throw new RangeError("pick() needs at least one item");
    }
    return items[Math.floor(this.next() * items.length)];
  }

  /** Picks a value from [weight, value] pairs, with probability proportional to its weight. */
  weighted<T>(table: ReadonlyArray<readonly [number, T]>): T {
    const total = table.reduce((sum, [weight]) => sum + weight, 0);
    let draw = this.next() * total;
    for (const [weight, value] of table) {
      draw -= weight;
      if (draw < 0) {
        return value;
      }
    }
    return table[table.length - 1][1];
  }

  /** A new generator seeded from this one, so one part of a test can draw without shifting another's sequence. */
  fork(): SeededRandom {
    return new SeededRandom(Math.floor(this.next() * 4294967296));
  }
}

/**
 * Returns the seed from the environment variable `name` (a decimal integer from 0 to 4294967295), or a
 * new random seed when it is unset. Throws for a value that is not such an integer.
 */
export function seedFromEnv(name: string): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") {
    return randomInt(0, 2 ** 32 - 1);
  }

  const seed = Number(raw);
  if (!/^\s*\d+\s*$/.test(raw) || !Number.isSafeInteger(seed) || seed > 4294967295) {
    throw new Error(`Invalid ${name} "${raw}": expected a decimal integer from 0 to 4294967295`);
  }
  return seed;
}

/** Prints the seed of a test run and how to replay it. */
export function announceSeed(suite: string, name: string, seed: number): void {
  console.log(`      ${suite}: seed ${seed} (replay with ${name}=${seed})`);
}
