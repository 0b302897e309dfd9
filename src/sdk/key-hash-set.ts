/**
 * A set of 64-bit hashes of record keys in typed arrays: 16 to 32 bytes a key (a `Set` of the
 * key strings takes ~45), so a read can tell whether a file of millions of rows holds a key
 * twice, and delete detection which linked keys are still there, without keeping the keys.
 * A hit may be a collision of two different keys (about 1 in 10^7 for ten million keys
 * among themselves; a given key against ten million others, about 1 in 10^12), so a caller
 * that must be sure confirms a hit with the keys themselves.
 */
export class KeyHashSet {
  #table = new Uint32Array(2 * 1024)
  #size = 0
  #mask = 1023

  /** Adds a key's hash; false when the hash was there already. */
  add(key: string): boolean {
    hashKey(key)
    if (this.#size * 2 >= this.#mask) this.#grow()
    return this.#insert(this.#table, this.#mask, H[0]!, H[1]!)
  }

  /** Whether a key's hash is in the set (a hit may be another key's: see the class). */
  has(key: string): boolean {
    hashKey(key)
    const [h1, h2] = [H[0]!, H[1]!]
    const table = this.#table
    let slot = (h1 ^ h2) & this.#mask
    while (table[slot * 2] !== 0) {
      if (table[slot * 2] === h1 && table[slot * 2 + 1] === h2) return true
      slot = (slot + 1) & this.#mask
    }
    return false
  }

  get size(): number {
    return this.#size
  }

  #insert(table: Uint32Array, mask: number, h1: number, h2: number): boolean {
    let slot = (h1 ^ h2) & mask
    while (table[slot * 2] !== 0) {
      if (table[slot * 2] === h1 && table[slot * 2 + 1] === h2) return false
      slot = (slot + 1) & mask
    }
    table[slot * 2] = h1
    table[slot * 2 + 1] = h2
    if (table === this.#table) this.#size++
    return true
  }

  #grow(): void {
    const old = this.#table
    const mask = this.#mask * 2 + 1
    const table = new Uint32Array((mask + 1) * 2)
    for (let slot = 0; slot < old.length / 2; slot++) {
      const h1 = old[slot * 2]!
      if (h1 !== 0) this.#insert(table, mask, h1, old[slot * 2 + 1]!)
    }
    this.#table = table
    this.#mask = mask
  }
}

/** The two 32-bit halves of the last key hashed (no allocation per key). */
const H = new Uint32Array(2)

/** Hashes a key into {@link H}: FNV-1a and a murmur-style mix, never all zero. */
function hashKey(key: string): void {
  let h1 = 0x811c9dc5
  let h2 = 0x01000193 ^ key.length
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i)
    h1 = Math.imul(h1 ^ c, 0x01000193)
    h2 = Math.imul(h2 ^ c, 0x5bd1e995)
    h2 ^= h2 >>> 15
  }
  // Zero marks an empty slot, so no stored hash may be all zero.
  H[0] = h1 >>> 0 || 1
  H[1] = h2 >>> 0
}
