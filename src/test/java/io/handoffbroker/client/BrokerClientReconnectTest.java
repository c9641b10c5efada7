package io.handoffbroker.client;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.wire.proto.Negotiated;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

class BrokerClientReconnectTest {

    @TempDir
    Path dir;

    @Test
    void eachReconnectGoesToTheBackendPipeOfItsOwnNegotiated() throws Exception {
        Path first = dir.resolve("first.sock");
        Path second = dir.resolve("second.sock");
        BrokerClient client = new BrokerClient(dir.resolve("broker.sock"), Duration.ofSeconds(2));
        try (AFUNIXServerSocket firstBackend = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(first));
                AFUNIXServerSocket secondBackend = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(second))) {
            // A connection that went to the wrong backend fails the accept instead of hanging it.
            firstBackend.setSoTimeout(2_000);
            secondBackend.setSoTimeout(2_000);
            for (Path expected : new Path[] {first, second, second, first}) {
                Negotiated negotiated = Negotiated.newBuilder().setBackendPipe(expected.toString()).build();
                try (AFUNIXSocket connection = client.reconnect(negotiated)) {
                    AFUNIXServerSocket backend = expected.equals(first) ? firstBackend : secondBackend;
                    try (AFUNIXSocket accepted = backend.accept()) {
                        connection.getOutputStream().write(7);
                        assertThat(accepted.getInputStream().read()).isEqualTo(7);
                    }
                }
            }
        }
    }
}
