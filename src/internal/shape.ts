/**
 * How deep stored bytes nest, found without decoding them and without recursion: a value read back
 * must nest no deeper than one the serializers would write, or freezing, copying or the user's own
 * code could overflow the stack on it. Also bounds what is costly to decode (a BigInt's digits, a
 * count of items larger than the bytes could hold). Malformed bytes are left to the decoder, which
 * refuses them with its own words: a scan says only what it is sure of.
 */

/** MessagePack extension types whose payload is a MessagePack value (the library's Map and Set). */
const NESTED_EXTENSIONS = new Set([2, 3])

/** The most decimal digits a BigInt may have, written, read or keyed: parsing more takes time that grows with their square. */
export const MAX_BIGINT_DIGITS = 10_000

/** Below this many hexadecimal digits a BigInt has fewer than MAX_BIGINT_DIGITS decimal ones. */
const BIGINT_HEX_DIGITS_TO_CHECK = Math.floor(MAX_BIGINT_DIGITS / Math.log10(16)) - 2

/**
 * How many decimal digits `value` has when that is more than MAX_BIGINT_DIGITS, else undefined.
 * Its bits are looked at first: printing a huge one in decimal is itself slow.
 */
export const bigIntTooLong = (value: bigint): number | undefined => {
  if (value.toString(16).length < BIGINT_HEX_DIGITS_TO_CHECK) return undefined
  const digits = value.toString().replace('-', '').length
  return digits > MAX_BIGINT_DIGITS ? digits : undefined
}

/**
 * Why MessagePack `bytes` must not be decoded (nesting deeper than `maxLevels` containers, more
 * items declared than bytes left), or undefined. A Map or Set extension and the array inside it
 * count as one level, as the writer counts them. A BigInt's length is the decoder's own check.
 */
export const msgpackRefusal = (bytes: Uint8Array, maxLevels: number): string | undefined => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const end = bytes.length
  // The values left to read in each open container, and whether each counts as a level.
  const left: Array<number> = [1]
  const counts: Array<boolean> = [false]
  let levels = 0
  let pos = 0
  while (left.length > 0) {
    // Each level takes a byte at least: when the bytes left cannot nest past the limit, nothing
    // more can be wrong here that the decoder does not see for itself.
    if (levels + (end - pos) <= maxLevels) return undefined
    const top = left.length - 1
    if (left[top] === 0) {
      left.pop()
      if (counts.pop() === true) levels--
      continue
    }
    left[top] = (left[top] as number) - 1
    if (pos >= end) return undefined
    const type = bytes[pos++] as number
    let items = -1 // a container's items (-1: not a container)
    let skip = 0 // bytes of payload to step over
    let size = 0 // bytes of the length that follows the type
    if (type <= 0x7f || type >= 0xe0 || type === 0xc0 || type === 0xc2 || type === 0xc3) skip = 0
    else if (type >= 0x80 && type <= 0x8f) items = 2 * (type & 0x0f)
    else if (type >= 0x90 && type <= 0x9f) items = type & 0x0f
    else if (type >= 0xa0 && type <= 0xbf) skip = type & 0x1f
    else {
      switch (type) {
        case 0xc4: case 0xd9: size = 1; break // bin 8, str 8
        case 0xc5: case 0xda: size = 2; break // bin 16, str 16
        case 0xc6: case 0xdb: size = 4; break // bin 32, str 32
        case 0xca: skip = 4; break // float 32
        case 0xcb: skip = 8; break // float 64
        case 0xcc: case 0xd0: skip = 1; break
        case 0xcd: case 0xd1: skip = 2; break
        case 0xce: case 0xd2: skip = 4; break
        case 0xcf: case 0xd3: skip = 8; break
        case 0xdc: case 0xdd: case 0xde: case 0xdf: {
          const wide = type === 0xdd || type === 0xdf
          if (pos + (wide ? 4 : 2) > end) return undefined
          const count = wide ? view.getUint32(pos) : view.getUint16(pos)
          pos += wide ? 4 : 2
          items = type >= 0xde ? 2 * count : count
          break
        }
        case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
        case 0xc7: case 0xc8: case 0xc9: {
          // An extension: its length, its type, its payload.
          const fixed = type <= 0xd8 ? [1, 2, 4, 8, 16][type - 0xd4] : undefined
          let length = fixed ?? 0
          if (fixed === undefined) {
            const width = type === 0xc7 ? 1 : type === 0xc8 ? 2 : 4
            if (pos + width > end) return undefined
            length = width === 1 ? (bytes[pos] as number) : width === 2 ? view.getUint16(pos) : view.getUint32(pos)
            pos += width
          }
          if (pos + 1 + length > end) return undefined
          const extension = view.getInt8(pos)
          pos += 1
          if (NESTED_EXTENSIONS.has(extension)) {
            // Its payload is one array (the writer writes nothing else there), read next, in place:
            // the array is the level. Anything else, another extension say, could nest without
            // counting, and the decoder reads extensions by recursion.
            const inner = bytes[pos]
            if (length === 0 || inner === undefined || !((inner >= 0x90 && inner <= 0x9f) || inner === 0xdc || inner === 0xdd)) {
              return 'a Map or Set extension that does not hold an array'
            }
            left.push(1)
            counts.push(false)
          } else skip = length
          break
        }
        default:
          return undefined // 0xc1 is never used: the decoder says so
      }
    }
    if (size > 0) {
      if (pos + size > end) return undefined
      skip = size === 1 ? (bytes[pos] as number) : size === 2 ? view.getUint16(pos) : view.getUint32(pos)
      pos += size
    }
    if (items >= 0) {
      if (levels + 1 > maxLevels) return `nesting deeper than ${maxLevels} levels`
      // Every item takes a byte at least: a count beyond the bytes left is a lie, refused before
      // anything is made for it.
      if (items > end - pos) return `a container of ${items} items in ${end - pos} bytes`
      left.push(items)
      counts.push(true)
      levels++
      continue
    }
    if (pos + skip > end) return undefined
    pos += skip
  }
  return undefined
}

/** Why JSON `text` must not be parsed (nesting deeper than `maxLevels` arrays and objects), or undefined. */
export const jsonRefusal = (text: string, maxLevels: number): string | undefined => {
  let levels = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // a backslash: the next character is escaped
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x5b || c === 0x7b) {
      if (++levels > maxLevels) return `nesting deeper than ${maxLevels} levels`
    } else if (c === 0x5d || c === 0x7d) levels--
  }
  return undefined
}
