/**
 * Integer ids (metric ids, in practice a few dozen per object) numbered 0, 1, 2… in the
 * order they are first added. An open-addressing table over typed arrays: the reading
 * rules look up the channel of every row, and a `Map` lookup per row cost more than the
 * rules themselves.
 */
export class IdSlots {
  #ids: Int32Array;
  /** The slot of the id at the same position, -1 where none is stored. */
  #slots: Int32Array;
  #bits: number;
  #size = 0;

  /** @param expected how many ids are expected (1 to 2^28); the table grows past it. @defaultValue 16 */
  constructor(expected = 16) {
    if (!Number.isInteger(expected) || expected < 1 || expected > 2 ** 28) {
      throw new RangeError(`IdSlots: expected ${expected} is not an integer from 1 to 2^28`);
    }
    this.#bits = Math.max(4, Math.ceil(Math.log2(expected * 2)));
    this.#ids = new Int32Array(1 << this.#bits);
    this.#slots = new Int32Array(1 << this.#bits).fill(-1);
  }

  /** How many ids have a slot. */
  get size(): number {
    return this.#size;
  }

  /** The slot of `id`, or -1 when it has none. */
  get(id: number): number {
    const mask = this.#slots.length - 1;
    for (let i = this.#home(id); ; i = (i + 1) & mask) {
      const s = this.#slots[i]!;
      if (s < 0 || this.#ids[i] === id) return s;
    }
  }

  /** The slot of `id`, the next free number when it had none. */
  add(id: number): number {
    const found = this.get(id);
    if (found >= 0) return found;
    // at most half full, so that a probe meets a free position soon
    if ((this.#size + 1) * 2 > this.#slots.length) this.#grow();
    const mask = this.#slots.length - 1;
    let i = this.#home(id);
    while (this.#slots[i]! >= 0) i = (i + 1) & mask;
    this.#ids[i] = id;
    this.#slots[i] = this.#size;
    return this.#size++;
  }

  #home(id: number): number {
    return Math.imul(id, 0x9e3779b1) >>> (32 - this.#bits);
  }

  #grow(): void {
    const ids = this.#ids;
    const slots = this.#slots;
    this.#bits++;
    this.#ids = new Int32Array(1 << this.#bits);
    this.#slots = new Int32Array(1 << this.#bits).fill(-1);
    const mask = this.#slots.length - 1;
    for (let j = 0; j < slots.length; j++) {
      if (slots[j]! < 0) continue;
      let i = this.#home(ids[j]!);
      while (this.#slots[i]! >= 0) i = (i + 1) & mask;
      this.#ids[i] = ids[j]!;
      this.#slots[i] = slots[j]!;
    }
  }
}
