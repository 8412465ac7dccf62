import { describe, expect, it } from 'vitest';
import { grownCapacity, ReusedColumns } from '../src/reused-columns.js';

describe('ReusedColumns', () => {
  it('gives columns of exactly n rows, of their kinds, over the same buffers call after call', () => {
    const cols = new ReusedColumns({ at: Float64Array, id: Int32Array });
    const a = cols.columns(100);
    expect(a.at).toBeInstanceOf(Float64Array);
    expect(a.id).toBeInstanceOf(Int32Array);
    expect([a.at.length, a.id.length]).toEqual([100, 100]);
    a.at[3] = 2.5;
    const b = cols.columns(60);
    expect(b.at.buffer).toBe(a.at.buffer);
    expect(b.at[3]).toBe(2.5);
    expect(b.at.length).toBe(60);
  });

  it('grows by half at least when a call needs more, then keeps the larger buffers', () => {
    const cols = new ReusedColumns({ v: Float64Array });
    const first = cols.columns(100).v;
    const grown = cols.columns(101).v;
    expect(grown.buffer).not.toBe(first.buffer);
    expect(grown.buffer.byteLength).toBe(150 * 8);
    expect(cols.columns(150).v.buffer).toBe(grown.buffer);
  });

  it('gives a call above the bound columns of its own and keeps the buffers within it', () => {
    const cols = new ReusedColumns({ v: Float64Array }, 1000);
    const kept = cols.columns(900).v;
    const own = cols.columns(5000).v;
    expect(own.length).toBe(5000);
    expect(own.buffer).not.toBe(kept.buffer);
    expect(cols.columns(800).v.buffer).toBe(kept.buffer);
    // growing stops at the bound: 900 × 1.5 would be 1,350 rows
    expect(cols.columns(950).v.buffer.byteLength).toBe(1000 * 8);
  });
});

describe('grownCapacity', () => {
  it('is the need, or half again the current capacity, within the bound unless the need is past it', () => {
    expect(grownCapacity(0, 10)).toBe(10);
    expect(grownCapacity(100, 101)).toBe(150);
    expect(grownCapacity(100, 400)).toBe(400);
    expect(grownCapacity(100, 101, 120)).toBe(120);
    expect(grownCapacity(100, 130, 120)).toBe(130);
  });
});
