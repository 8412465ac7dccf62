import { describe, expect, it } from 'vitest';
import { IdSlots } from '../../src/rules/id-slots.js';

describe('IdSlots', () => {
  it('numbers ids in the order first added, and knows no other', () => {
    const slots = new IdSlots();
    expect(slots.add(315)).toBe(0);
    expect(slots.add(0)).toBe(1);
    expect(slots.add(-7)).toBe(2);
    expect(slots.add(315)).toBe(0);
    expect([slots.get(315), slots.get(0), slots.get(-7), slots.get(316)]).toEqual([0, 1, 2, -1]);
    expect(slots.size).toBe(3);
  });

  it('keeps every slot while it grows, ids that collide included', () => {
    const slots = new IdSlots(2);
    // multiples of a power of two land on few home positions of a small table
    const ids = Array.from({ length: 5000 }, (_, i) => (i % 2 ? i * 65536 : 2 ** 31 - 1 - i));
    for (const [i, id] of ids.entries()) expect(slots.add(id)).toBe(i);
    expect(ids.map((id) => slots.get(id))).toEqual(ids.map((_, i) => i));
    expect(slots.get(12345)).toBe(-1);
    expect(slots.size).toBe(ids.length);
  });

  it('refuses a size it cannot hold', () => {
    for (const n of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 29]) {
      expect(() => new IdSlots(n)).toThrow(/not an integer from 1 to 2\^28/);
    }
  });
});
