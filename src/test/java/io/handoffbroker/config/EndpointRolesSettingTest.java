package io.handoffbroker.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.core.env.MapPropertySource;
import org.springframework.core.env.StandardEnvironment;

/**
 * A path names one listener in one role: a backend's own endpoint, a handoff endpoint, or the
 * broker's socket. A configuration that names one path in two roles is refused at start-up,
 * naming the key, where it used to start and fail every client it sent there.
 */
class EndpointRolesSettingTest {

    @TempDir
    Path dir;

    private BrokerProperties bind(Map<String, Object> settings) {
        Map<String, Object> all = new HashMap<>(settings);
        all.put("broker.socket-path", dir.resolve("broker.sock").toString());
        all.put("broker.demo.enabled", "false");
        StandardEnvironment environment = new StandardEnvironment();
        environment.getPropertySources().addFirst(new MapPropertySource("test", all));
        return Binder.get(environment).bindOrCreate("broker", BrokerProperties.class);
    }

    private static Map<String, Object> service(int index, String name, Path backend, Path handoff) {
        Map<String, Object> entry = new HashMap<>(Map.of(
                "broker.services[" + index + "].name", name, "broker.services[" + index + "].version", "1.0.0",
                "broker.services[" + index + "].backend-endpoint", backend.toString()));
        if (handoff != null) {
            entry.put("broker.services[" + index + "].handoff-endpoint", handoff.toString());
        }
        return entry;
    }

    @Test
    void aHandoffEndpointThatIsItsOwnBackendEndpointIsRefused() {
        Path both = dir.resolve("svc.sock");
        assertThatThrownBy(() -> BrokerSettings.catalog(bind(service(0, "svc", both, both))))
                .isInstanceOf(BrokerStartupException.class)
                .hasMessageContaining("broker.services[0].handoff-endpoint " + both)
                .hasMessageContaining("is the backend-endpoint of broker.services[0]");
    }

    @Test
    void aHandoffEndpointThatIsAnotherEntrysBackendEndpointIsRefused() {
        Map<String, Object> settings = new HashMap<>(service(0, "a", dir.resolve("a.sock"), null));
        settings.putAll(service(1, "b", dir.resolve("b.sock"), dir.resolve("./a.sock")));
        assertThatThrownBy(() -> BrokerSettings.catalog(bind(settings)))
                .isInstanceOf(BrokerStartupException.class)
                .hasMessageContaining("broker.services[1].handoff-endpoint")
                .hasMessageContaining("is the backend-endpoint of broker.services[0]");
    }

    @Test
    void theBrokersOwnSocketAsAnEndpointIsRefused() {
        Path broker = dir.resolve("broker.sock");
        assertThatThrownBy(() -> BrokerSettings.catalog(bind(service(0, "svc", broker, null))))
                .isInstanceOf(BrokerStartupException.class)
                .hasMessageContaining("broker.services[0].backend-endpoint " + broker)
                .hasMessageContaining("the broker's own socket (broker.socket-path)");
        assertThatThrownBy(() -> BrokerSettings.catalog(bind(service(0, "svc", dir.resolve("svc.sock"), broker))))
                .isInstanceOf(BrokerStartupException.class)
                .hasMessageContaining("broker.services[0].handoff-endpoint " + broker);
    }

    @Test
    void versionsSharingTheirEndpointsInTheSameRolesStart() {
        Map<String, Object> settings = new HashMap<>(service(0, "svc", dir.resolve("svc.sock"),
                dir.resolve("svc-handoff.sock")));
        settings.putAll(service(1, "svc", dir.resolve("svc.sock"), dir.resolve("svc-handoff.sock")));
        settings.put("broker.services[1].version", "2.0.0");
        assertThat(BrokerSettings.catalog(bind(settings)).all()).hasSize(2);
    }
}
