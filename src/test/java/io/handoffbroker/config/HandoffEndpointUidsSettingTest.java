package io.handoffbroker.config;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.unix.ProcessUser;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.core.env.MapPropertySource;
import org.springframework.core.env.StandardEnvironment;

/**
 * {@code broker.services[].handoff-endpoint-uids} as the catalog carries it: the uids an
 * entry lists, none by default (any uid), and the built-in demo's endpoint pinned to the
 * broker's own uid, since the demo runs in the broker's process.
 */
class HandoffEndpointUidsSettingTest {

    @TempDir
    Path dir;

    private BrokerProperties bind(Map<String, Object> settings) {
        StandardEnvironment environment = new StandardEnvironment();
        environment.getPropertySources().addFirst(new MapPropertySource("test", settings));
        return Binder.get(environment).bindOrCreate("broker", BrokerProperties.class);
    }

    @Test
    void anEntrysUidsAreCarriedToItsBackendAndNoneMeansAny() {
        BrokerProperties properties = bind(Map.of(
                "broker.socket-path", dir.resolve("broker.sock").toString(),
                "broker.services[0].name", "billing", "broker.services[0].version", "2.4.1",
                "broker.services[0].backend-endpoint", dir.resolve("billing.sock").toString(),
                "broker.services[0].handoff-endpoint", dir.resolve("billing-handoff.sock").toString(),
                "broker.services[0].handoff-endpoint-uids", "1000,0,1000",
                "broker.services[1].name", "search", "broker.services[1].version", "1.0.0",
                "broker.services[1].backend-endpoint", dir.resolve("search.sock").toString(),
                "broker.services[1].handoff-endpoint", dir.resolve("search-handoff.sock").toString()));
        assertThat(properties.getServices().get(0).getHandoffEndpointUids()).containsExactly(1000L, 0L, 1000L);
        assertThat(backend(properties, "billing").handoffEndpointUids()).containsExactly(0L, 1000L);
        assertThat(backend(properties, "search").handoffEndpointUids()).as("the default: any uid").isEmpty();
    }

    @Test
    void theDemoHandsConnectionsOnlyToAListenerOfTheBrokersOwnUid() {
        BrokerProperties properties = bind(Map.of("broker.socket-path", dir.resolve("broker.sock").toString()));
        assertThat(BrokerSettings.demoBackend(properties).handoffEndpointUids()).containsExactly(ProcessUser.uid());
        assertThat(backend(properties, BrokerSettings.DEMO_SERVICE).handoffEndpointUids())
                .containsExactly(ProcessUser.uid());
    }

    private static ServiceBackend backend(BrokerProperties properties, String name) {
        return BrokerSettings.catalog(properties).all().stream().filter(b -> b.name().equals(name)).findFirst()
                .orElseThrow();
    }
}
