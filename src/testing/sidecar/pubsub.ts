/**
 * The test sidecar's pub/sub: an in-memory bus that several test sidecars can share (the replicas
 * of one app, each with its own sidecar), and the delivery to an app as daprd does it: daprd asks
 * the app for `GET /dapr/subscribe` when it starts (again until the app answers), then POSTs each
 * event, as a CloudEvent (`application/cloudevents+json`), to the route the app gave. Every sidecar
 * subscribed gets every message (each is its own consumer, as `consumerID: "{uuid}"` makes daprd's
 * `pubsub.redis`). An answer other than 2xx, or `{"status":"RETRY"}`, is retried a few times.
 */
import { randomUUID } from 'node:crypto'

/** One app's subscriptions, as its sidecar holds them. */
interface Subscriber {
  readonly routes: Map<string, string> // `${pubsub}\u0000${topic}` -> route
  readonly deliver: (route: string, body: string) => void
}

/**
 * A bus shared by the sidecars of one app's replicas.
 *
 * @category model
 * @since 0.5.0
 */
export interface MemoryBus {
  readonly publish: (pubsub: string, topic: string, event: string) => void
  readonly add: (subscriber: Subscriber) => () => void
}

export const memoryBus = (): MemoryBus => {
  const subscribers = new Set<Subscriber>()
  return {
    publish: (pubsub, topic, event) => {
      for (const subscriber of subscribers) {
        const route = subscriber.routes.get(`${pubsub}\u0000${topic}`)
        if (route !== undefined) subscriber.deliver(route, event)
      }
    },
    add: (subscriber) => {
      subscribers.add(subscriber)
      return () => {
        subscribers.delete(subscriber)
      }
    },
  }
}

/** The CloudEvent daprd wraps a published body in (the fields a subscriber reads). */
export const cloudEvent = (appId: string, pubsub: string, topic: string, contentType: string, body: string): string => {
  let data: unknown = body
  if (/json/i.test(contentType)) {
    try {
      data = JSON.parse(body)
    } catch {
      data = body
    }
  }
  return JSON.stringify({
    data,
    datacontenttype: contentType,
    id: randomUUID(),
    pubsubname: pubsub,
    source: appId,
    specversion: '1.0',
    time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    topic,
    traceid: '',
    traceparent: '',
    tracestate: '',
    type: 'com.dapr.event.sent',
  })
}

const ATTEMPTS = 3
const RETRY_MS = 100
const POLL_MS = 200

/**
 * Subscribes the app on `appPort` to `bus`: asks it for its subscriptions until it answers, then
 * delivers what it subscribed to, one event at a time, in order. `enabled()` false: events are
 * dropped (the bus is away). Stops with the returned function.
 */
export const subscribeApp = (
  bus: MemoryBus,
  appHost: string,
  appPort: number,
  pubsubs: ReadonlyArray<string>,
  enabled: () => boolean,
): { readonly stop: () => void; readonly resubscribe: () => void } => {
  const origin = `http://${appHost.includes(':') ? `[${appHost}]` : appHost}:${appPort}`
  const routes = new Map<string, string>()
  let stopped = false
  let queue: Promise<void> = Promise.resolve()
  const deliverOne = async (route: string, body: string): Promise<void> => {
    for (let attempt = 1; attempt <= ATTEMPTS && !stopped; attempt++) {
      try {
        const response = await fetch(`${origin}${route.startsWith('/') ? route : `/${route}`}`, {
          method: 'POST',
          headers: { 'content-type': 'application/cloudevents+json' },
          body,
          signal: AbortSignal.timeout(5000),
        })
        const text = await response.text()
        const status = response.ok ? parseStatus(text) : 'RETRY'
        if (status !== 'RETRY') return
      } catch {
        // not reachable: try again
      }
      await sleep(RETRY_MS)
    }
  }
  const remove = bus.add({
    routes,
    deliver: (route, body) => {
      if (!enabled()) return
      queue = queue.then(() => deliverOne(route, body))
    },
  })
  const ask = async (): Promise<void> => {
    while (!stopped) {
      try {
        const response = await fetch(`${origin}/dapr/subscribe`, { signal: AbortSignal.timeout(2000) })
        if (response.ok) {
          const entries = (await response.json())
          routes.clear()
          if (Array.isArray(entries)) {
            for (const entry of entries as Array<Record<string, unknown>>) {
              const pubsub = entry['pubsubname']
              const topic = entry['topic']
              const route = typeof entry['route'] === 'string' ? entry['route'] : (entry['routes'] as { default?: unknown } | undefined)?.default
              if (typeof pubsub === 'string' && typeof topic === 'string' && typeof route === 'string' && pubsubs.includes(pubsub)) routes.set(`${pubsub}\u0000${topic}`, route)
            }
          }
          return
        }
        await response.arrayBuffer()
      } catch {
        // the app is not listening yet
      }
      await sleep(POLL_MS)
    }
  }
  void ask()
  return {
    stop: () => {
      stopped = true
      remove()
    },
    resubscribe: () => {
      routes.clear()
      void ask()
    },
  }
}

const parseStatus = (text: string): string => {
  if (text.trim() === '') return 'SUCCESS'
  try {
    const status = (JSON.parse(text) as { status?: unknown }).status
    return typeof status === 'string' ? status.toUpperCase() : 'SUCCESS'
  } catch {
    return 'SUCCESS'
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref())
