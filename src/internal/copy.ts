/**
 * Deep copies and deep freezing of the values a cache hands out: the plain data a serializer writes
 * and reads back (primitives, arrays, plain objects, `Date`, `Map`, `Set`, `Uint8Array`). Anything
 * else is copied by `structuredClone`, and a value even that cannot copy is reported, not shared.
 */

/** A deep copy of `value`, or undefined when it cannot be copied (then it must not be shared either). */
export const copyValue = (value: unknown): { readonly value: unknown } | undefined => {
  try {
    return { value: copy(value) }
  } catch {
    return undefined
  }
}

/**
 * How deep a value the tier copies or freezes: deeper than any value a serializer writes or reads
 * back (100 levels), so that only a user's own serializer could hand one out, and never deep enough
 * to overflow the stack (a cycle included). Such a value is served, not kept.
 */
const MAX_LEVELS = 200

class TooDeep extends Error {}

const copy = (value: unknown, level = 0): unknown => {
  if (typeof value !== 'object' || value === null) return value
  if (level > MAX_LEVELS) throw new TooDeep()
  const next = level + 1
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length)
    for (let i = 0; i < value.length; i++) out[i] = copy(value[i], next)
    return out
  }
  const proto: unknown = Object.getPrototypeOf(value)
  if (proto === Object.prototype || proto === null) {
    const out: Record<string, unknown> = proto === null ? (Object.create(null) as Record<string, unknown>) : {}
    for (const key of Object.keys(value)) {
      const item = copy((value as Record<string, unknown>)[key], next)
      // An own "__proto__" key (JSON.parse makes one) stays an own key: assigned, it would set the copy's prototype.
      if (key === '__proto__') Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true })
      else out[key] = item
    }
    return out
  }
  if (value instanceof Date) return new Date(value.getTime())
  if (value instanceof Uint8Array) return value.slice()
  if (value instanceof Map) return new Map(Array.from(value, ([k, v]) => [copy(k, next), copy(v, next)]))
  if (value instanceof Set) return new Set(Array.from(value, (item) => copy(item, next)))
  return structuredClone(value)
}

/**
 * Freezes `value` and everything in it, when freezing makes it immutable: arrays and plain objects.
 * A `Date`, `Map`, `Set` or typed array stays mutable when frozen (its contents live in internal
 * slots), so a value holding one is not frozen at all and false is returned.
 */
export const deepFreeze = (value: unknown): boolean => {
  if (!freezable(value)) return false
  freeze(value)
  return true
}

const freezable = (value: unknown, level = 0): boolean => {
  if (typeof value !== 'object' || value === null) return true
  if (level > MAX_LEVELS) return false
  if (Array.isArray(value)) return value.every((item) => freezable(item, level + 1))
  const proto: unknown = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) return false
  return Object.keys(value).every((key) => freezable((value as Record<string, unknown>)[key], level + 1))
}

const freeze = (value: unknown): void => {
  if (typeof value !== 'object' || value === null) return
  Object.freeze(value)
  for (const key of Object.keys(value)) freeze((value as Record<string, unknown>)[key])
}
