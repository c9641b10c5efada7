package io.handoffbroker.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.backend.BackendServer;
import io.handoffbroker.client.BrokerClient;
import io.handoffbroker.client.Route;
import io.handoffbroker.client.ServiceConnection;
import io.handoffbroker.demo.EchoHandler;
import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.testing.BrokerFixture;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HelloRoundTripTest {

    @TempDir
    Path dir;

    @Test
    void clientReachesARealBackendThroughBackendPipeAndGetsItsEcho() throws Exception {
        Path backendPipe = dir.resolve("echo").resolve("backend.sock");
        try (BackendServer backend = new BackendServer(backendPipe, new EchoHandler(), 16).start();
                BrokerFixture broker = new BrokerFixture(dir)
                        .service(ServiceBackend.reconnectOnly("echo", "1.2.3", backendPipe)).start()) {
            BrokerClient client = new BrokerClient(broker.socketPath());
            try (ServiceConnection connection = client.connect("echo", "1.2.3")) {
                assertThat(connection.route()).isEqualTo(Route.RECONNECTED);
                assertThat(connection.negotiated().getBackendPipe()).isEqualTo(backendPipe.toString());
                assertThat(connection.negotiated().getConnectionId()).isPositive();
                assertThat(connection.negotiated().getDaemonVersion()).isEqualTo(BrokerFixture.DAEMON_VERSION);
                connection.out().write("ping".getBytes(StandardCharsets.UTF_8));
                connection.out().flush();
                assertThat(new String(connection.in().readNBytes(4), StandardCharsets.UTF_8)).isEqualTo("ping");
            }
        }
    }
}
