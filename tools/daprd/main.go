// Command daprd is the real Dapr runtime, built from Dapr's own Go modules with only the
// components dapr-state-cache tests against: the in-memory and Redis state stores, and the
// in-memory and Redis pub/sub (for the replica work that follows). Everything else Dapr ships
// is left out, which keeps the build small; the runtime itself is Dapr's app.Run, unchanged.
package main

import (
	inmemorypubsub "github.com/dapr/components-contrib/pubsub/in-memory"
	redispubsub "github.com/dapr/components-contrib/pubsub/redis"
	inmemorystate "github.com/dapr/components-contrib/state/in-memory"
	redisstate "github.com/dapr/components-contrib/state/redis"
	"github.com/dapr/dapr/cmd/daprd/app"
	pubsubLoader "github.com/dapr/dapr/pkg/components/pubsub"
	stateLoader "github.com/dapr/dapr/pkg/components/state"
)

func main() {
	stateLoader.DefaultRegistry.RegisterComponent(inmemorystate.NewInMemoryStateStore, "in-memory")
	stateLoader.DefaultRegistry.RegisterComponent(redisstate.NewRedisStateStore, "redis")
	pubsubLoader.DefaultRegistry.RegisterComponent(inmemorypubsub.New, "in-memory")
	pubsubLoader.DefaultRegistry.RegisterComponent(redispubsub.NewRedisStreams, "redis")
	app.Run()
}
