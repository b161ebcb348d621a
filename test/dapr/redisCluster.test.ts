/**
 * The Dapr store on `state.redis` in cluster mode, over a private Redis Cluster of three primaries
 * (the way users outgrow one Redis): the store conformance suite, the replica scenarios with six
 * daprds on one cluster (the lease computing once across six processes), the tag scenarios, and a
 * restart under load. A transaction's keys must share a hash slot there: the store's `deleteMany`
 * learns it from the first CROSSSLOT answer and deletes key by key from then on.
 */
import { describeComponent } from './components.js'

describeComponent(
  'redis-cluster',
  'Redis Cluster',
  (owner) => ({ redisHost: owner.redis?.host }),
  (daprd) => daprd.redis,
)
