/**
 * The backplane's messages, as they travel over Dapr pub/sub (the `data` of a CloudEvent), and
 * what a replica keeps to tell whether it missed one: the sequence numbers of each other replica.
 */
import * as E from 'fp-ts/lib/Either.js'
import * as t from 'io-ts'

/** The format this library writes and reads; a message of a newer one is ignored (with a warning). */
export const FORMAT = 1

/** The most keys one message carries; a change of more goes out as several messages. */
export const MAX_KEYS_PER_MESSAGE = 500

/**
 * How long after this process's write of a key another replica's invalidation of it still deletes
 * it: the write may hold a value computed before that invalidation, landed after its delete and
 * before its message arrived here. Longer than a message takes while the bus is trusted. An
 * invalidation whose message could not be published is sent again for as long.
 */
export const OVERTAKE_WINDOW_MS = 10_000

/** The longest key a message may name (a longer one is not a key this library wrote). */
const MAX_KEY_LENGTH = 64 * 1024

const boundedKey = new t.Type<string, string, unknown>(
  'a key',
  (u): u is string => typeof u === 'string' && u.length > 0 && u.length <= MAX_KEY_LENGTH,
  (u, c) => (typeof u === 'string' && u.length > 0 && u.length <= MAX_KEY_LENGTH ? t.success(u) : t.failure(u, c)),
  t.identity,
)

const sequence = new t.Type<number, number, unknown>(
  'a sequence number',
  (u): u is number => typeof u === 'number' && Number.isSafeInteger(u) && u > 0,
  (u, c) => (typeof u === 'number' && Number.isSafeInteger(u) && u > 0 ? t.success(u) : t.failure(u, c)),
  t.identity,
)

/**
 * One message: `origin` is the replica that sent it (random, per backplane), `seq` counts its
 * messages from 1 with no gap, `kind` says what changed: `set` (new values written), `delete` (keys
 * invalidated), `beat` (nothing: the sender is alive, and its sequence is at `seq`).
 */
const origin = new t.Type<string, string, unknown>(
  'a replica id',
  (u): u is string => typeof u === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(u),
  (u, c) => (typeof u === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(u) ? t.success(u) : t.failure(u, c)),
  t.identity,
)

const MessageCodec = t.type({
  v: t.literal(FORMAT),
  origin,
  seq: sequence,
  kind: t.keyof({ set: null, delete: null, beat: null }),
  keys: t.array(boundedKey),
})

export type Message = t.TypeOf<typeof MessageCodec>

/** What a message that is not one of ours says about itself, for the warning. */
export type Refused = { readonly reason: 'newer'; readonly version: number } | { readonly reason: 'malformed'; readonly detail: string }

/** Reads a message out of a CloudEvent's body (its `data`), or says why it is not one. */
export const readMessage = (body: string): E.Either<Refused, Message> => {
  let event: unknown
  try {
    event = JSON.parse(body)
  } catch {
    return E.left({ reason: 'malformed', detail: 'the body is not JSON' })
  }
  const data = typeof event === 'object' && event !== null && 'data' in event ? (event).data : undefined
  // A publisher of another language may send the data as a JSON string.
  const message = typeof data === 'string' ? parseOr(data) : data
  if (typeof message !== 'object' || message === null) return E.left({ reason: 'malformed', detail: 'no message object in the event’s data' })
  const version = (message as { v?: unknown }).v
  if (typeof version === 'number' && Number.isSafeInteger(version) && version > FORMAT) return E.left({ reason: 'newer', version })
  if (Array.isArray((message as { keys?: unknown }).keys) && (message as { keys: Array<unknown> }).keys.length > MAX_KEYS_PER_MESSAGE) {
    return E.left({ reason: 'malformed', detail: `more than ${MAX_KEYS_PER_MESSAGE} keys` })
  }
  const decoded = MessageCodec.decode(message)
  if (E.isLeft(decoded)) {
    const field = decoded.left[0]?.context.map((entry) => entry.key).filter((key) => key !== '').join('.') ?? ''
    return E.left({ reason: 'malformed', detail: field === '' ? 'not a message' : `bad field \`${field}\`` })
  }
  return decoded
}

const parseOr = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

// -------------------------------------------------------------------------------------
// sequences
// -------------------------------------------------------------------------------------

/** What a replica keeps of another replica's sequence. */
interface Seen {
  /** The first number heard. */
  readonly first: number
  /** Every number from the first heard up to below this arrived. */
  next: number
  /** Numbers at or above `next` that arrived, out of order, and since when one before them is missing. */
  readonly ahead: Set<number>
  gapSince: number | undefined
  /** Numbers below the first one heard that arrived since (Dapr's workers deliver out of order). */
  readonly before: Set<number>
}

/** How many other replicas' sequences are kept; the least recently heard is forgotten past it. */
const MAX_ORIGINS = 1024

/** How many numbers are kept ahead of a gap, or below the first heard: past it, the gap counts as a loss. */
const MAX_AHEAD = 10_000

/**
 * The sequences of the other replicas, to tell a duplicate (at-least-once delivery) from a new
 * message and a message lost from one merely late (Dapr's workers deliver out of order). A doubt
 * counts a message as new: applying a change twice costs a read, missing one serves stale values.
 */
export const sequences = () => {
  // In the order last heard: the first is the one forgotten when there are too many.
  const origins = new Map<string, Seen>()
  let overflow = false
  return {
    /** Takes note of `message`: false when it is a duplicate, to be ignored. */
    arrived: (message: Message, now: number): boolean => {
      let seen = origins.get(message.origin)
      if (seen === undefined) {
        seen = { first: message.seq, next: message.seq, ahead: new Set(), gapSince: undefined, before: new Set() }
        if (origins.size >= MAX_ORIGINS) {
          const oldest = origins.keys().next()
          if (oldest.done !== true) origins.delete(oldest.value)
        }
      } else origins.delete(message.origin)
      origins.set(message.origin, seen)
      if (message.seq < seen.first) {
        // Below the first number heard: new unless it came already.
        if (seen.before.has(message.seq)) return false
        if (seen.before.size >= MAX_AHEAD) seen.before.clear()
        seen.before.add(message.seq)
        return true
      }
      if (message.seq < seen.next || seen.ahead.has(message.seq)) return false
      seen.ahead.add(message.seq)
      while (seen.ahead.delete(seen.next)) seen.next++
      if (seen.ahead.size > MAX_AHEAD) {
        // Too far ahead of a gap: the gap is taken as a loss now.
        overflow = true
        close(seen)
      }
      seen.gapSince = seen.ahead.size === 0 ? undefined : (seen.gapSince ?? now)
      return true
    },
    /**
     * Whether some replica's message has been missing for longer than `graceMs` (then it is taken as
     * lost, and the gap is closed: what arrived after it counts from there).
     */
    lost: (now: number, graceMs: number): boolean => {
      let lost = overflow
      overflow = false
      for (const seen of origins.values()) {
        if (seen.gapSince !== undefined && now - seen.gapSince > graceMs) {
          lost = true
          close(seen)
        }
      }
      return lost
    },
    /** Replicas heard from. */
    size: () => origins.size,
  }
}

/** Closes the gap of `seen`: every number up to the highest that arrived counts as heard. */
const close = (seen: Seen): void => {
  let highest = seen.next - 1
  for (const seq of seen.ahead) if (seq > highest) highest = seq
  seen.next = highest + 1
  seen.ahead.clear()
  seen.gapSince = undefined
}
