/**
 * The component files `startDaprd` writes for daprd: one `state.in-memory`, `state.redis` or
 * `state.postgresql` (v2) or `state.mongodb` component per store, one `pubsub.in-memory` or `pubsub.redis` per pub/sub, and the names it accepts.
 */
import { createHash } from 'node:crypto'
import type { Flavour } from './model.js'

// -------------------------------------------------------------------------------------
// components
// -------------------------------------------------------------------------------------

type Metadata = ReadonlyArray<readonly [string, string]>

/**
 * The `tablePrefix` of a store's PostgreSQL table (version 2 names its table `<prefix>state` and
 * ignores version 1's `tableName`): a letter first, lower case (PostgreSQL folds unquoted names), a
 * hash of the exact name (so `Cache` and `cache` stay apart) and short enough for its 63 bytes.
 */
export const postgresTablePrefix = (store: string): string =>
  `s_${store.toLowerCase().replace(/-/g, '_').slice(0, 40)}_${createHash('sha256').update(store).digest('hex').slice(0, 8)}_`

/** One component file: its name, its type (`state.redis`, ...) and its metadata. */
const yaml = (name: string, type: string, metadata: Metadata, version = 'v1'): string => {
  const lines = ['apiVersion: dapr.io/v1alpha1', 'kind: Component', 'metadata:', `  name: ${name}`, 'spec:', `  type: ${type}`, `  version: ${version}`]
  if (metadata.length === 0) lines.push('  metadata: []')
  else lines.push('  metadata:', ...metadata.map(([key, value]) => `  - name: ${key}\n    value: ${JSON.stringify(value)}`))
  return `${lines.join('\n')}\n`
}

export const componentYaml = (name: string, flavour: Flavour, redisHost: string | undefined, postgres?: string, mongodbHost?: string): string =>
  flavour === 'mongodb'
    ? // One collection per store in one database; `replicaSet` lets the component use transactions.
      yaml(name, 'state.mongodb', [['host', mongodbHost ?? ''], ['params', '?replicaSet=rs0'], ['databaseName', 'dapr'], ['collectionName', name], ['operationTimeout', '5s']])
    : flavour === 'postgres'
    ? // Version 2 of state.postgresql; one table per store, made by the component at its first start.
      yaml(name, 'state.postgresql', [['connectionString', postgres ?? ''], ['tablePrefix', postgresTablePrefix(name)], ['timeout', '5s']], 'v2')
    : yaml(
    name,
    `state.${flavour === 'redis-cluster' ? 'redis' : flavour}`,
    flavour === 'redis' || flavour === 'redis-cluster'
      ? [
          ...(flavour === 'redis-cluster' ? [['redisType', 'cluster'] as const] : []),
          ['redisHost', redisHost ?? ''],
          ['redisPassword', ''],
          // Fail fast when Redis is away, so the sidecar answers before a client's deadline.
          ['dialTimeout', '1s'],
          ['readTimeout', '2s'],
          ['writeTimeout', '2s'],
          ['maxRetries', '0'],
        ]
      : [],
  )

/**
 * A pub/sub component: on Redis, Redis Streams with a consumer group of its own per daprd
 * (`{uuid}`, which daprd replaces with a new random id at each start), so that every replica of
 * one app id gets every message; the stream is capped so that a new group does not read an
 * unbounded history.
 */
export const pubsubYaml = (name: string, flavour: Flavour, redisHost: string | undefined): string =>
  yaml(
    name,
    // PostgreSQL and MongoDB have no pub/sub component here: the in-memory one (this daprd alone).
    `pubsub.${flavour === 'postgres' || flavour === 'mongodb' ? 'in-memory' : flavour === 'redis-cluster' ? 'redis' : flavour}`,
    flavour === 'redis' || flavour === 'redis-cluster'
      ? [
          ...(flavour === 'redis-cluster' ? [['redisType', 'cluster'] as const] : []),
          ['redisHost', redisHost ?? ''],
          ['redisPassword', ''],
          ['consumerID', '{uuid}'],
          ['maxLenApprox', '10000'],
          ['dialTimeout', '1s'],
          ['maxRetries', '0'],
        ]
      : [],
  )

export const STORE_NAME = /^[A-Za-z0-9][A-Za-z0-9-]*$/
