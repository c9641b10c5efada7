package io.handoffbroker.client;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.wire.FrameIO;
import io.handoffbroker.wire.proto.Negotiated;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

class BrokerClientReconnectTest {

    @TempDir
    Path dir;

    @Test
    void aHandoffTheClientDidNotAskForIsNotTakenPartIn() throws Exception {
        Path backendPipe = dir.resolve("backend.sock");
        byte[] token = new byte[16];
        try (AFUNIXServerSocket backend = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(backendPipe));
                ScriptedBroker broker = ScriptedBroker.start(dir.resolve("broker.sock"), (hello, out) -> {
                    // A broker that breaks the protocol: a handoff for a Hello without the capability.
                    FrameIO.write(out, ScriptedBroker.handoffNegotiated(hello.getRequestId(), backendPipe.toString(),
                            token, 9));
                    FrameIO.write(out, ScriptedBroker.relay(token, 9, ack -> ack));
                })) {
            backend.setSoTimeout(2_000);
            BrokerClient client = new BrokerClient(broker.path(), Duration.ofSeconds(2), Duration.ofSeconds(2), false);

            try (ServiceConnection connection = client.connect("echo", "1.2.3");
                    AFUNIXSocket accepted = backend.accept()) {
                assertThat(connection.route()).isEqualTo(Route.RECONNECTED);
                assertThat(connection.fallbackReason()).contains("did not ask for");
                connection.socket().getOutputStream().write(7);
                assertThat(accepted.getInputStream().read()).as("on the backend_pipe").isEqualTo(7);
            }
            // It left the broker's connection: closed, or reset with the relay still unread in it.
            assertThat(broker.firstByteAfterScript().handle((next, reset) -> reset == null ? next : -1)
                    .get(2, TimeUnit.SECONDS)).as("the broker connection closed").isEqualTo(-1);
        }
    }

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
