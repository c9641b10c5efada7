package io.handoffbroker.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.handoffbroker.wire.FrameIO;
import io.handoffbroker.wire.PeerText;
import io.handoffbroker.wire.WireProtocol;
import io.handoffbroker.wire.proto.ErrorCode;
import io.handoffbroker.wire.proto.Frame;
import io.handoffbroker.wire.proto.HandoffAck;
import io.handoffbroker.wire.proto.HelloReply;
import io.handoffbroker.wire.proto.Negotiated;
import io.handoffbroker.wire.proto.Refused;
import java.io.IOException;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/**
 * The client acts on a Negotiated only when it answers its own Hello (replies echo
 * the Hello frame's request_id) for the one protocol it offers, and reports a refusal whatever its request_id: a
 * broker that could not read the Hello has none to echo. Against a scripted broker
 * on a real socket, with a real backend_pipe listener that sees whether the client reconnects.
 */
class BrokerClientReplyTest {

    @TempDir
    Path dir;

    @Test
    void aNegotiatedThatEchoesTheHellosRequestIdIsFollowed() throws Exception {
        Path backendPipe = dir.resolve("backend.sock");
        try (AFUNIXServerSocket backend = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(backendPipe));
                ScriptedBroker broker = ScriptedBroker.start(dir.resolve("broker.sock"),
                        (hello, out) -> out.write(FrameIO.encode(negotiated(hello.getRequestId(), backendPipe))))) {
            backend.setSoTimeout(5_000);
            try (ServiceConnection connection = client(broker).connect("echo", "1.0.0");
                    AFUNIXSocket accepted = backend.accept()) {
                assertThat(connection.route()).isEqualTo(Route.RECONNECTED);
                connection.socket().getOutputStream().write(7);
                assertThat(accepted.getInputStream().read()).isEqualTo(7);
            }
        }
    }

    @Test
    void aNegotiatedAnsweringAnotherRequestIdFailsTheConnectAndIsNotFollowed() throws Exception {
        Path backendPipe = dir.resolve("backend.sock");
        try (AFUNIXServerSocket backend = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(backendPipe));
                ScriptedBroker broker = ScriptedBroker.start(dir.resolve("broker.sock"),
                        (hello, out) -> out.write(FrameIO.encode(negotiated(hello.getRequestId() + 1, backendPipe))))) {
            // A connection or socket returned against expectation is closed, so the failure leaks nothing.
            assertThatThrownBy(() -> client(broker).connect("echo", "1.0.0").close()).isInstanceOf(IOException.class)
                    .isNotInstanceOf(BrokerRefusedException.class)
                    .hasMessageContaining("answers request_id");
            backend.setSoTimeout(300);
            assertThatThrownBy(() -> backend.accept().close()).as("no reconnect to the backend_pipe it named")
                    .isInstanceOf(SocketTimeoutException.class);
        }
    }

    @Test
    void aNegotiatedForAnotherProtocolThanTheOneOfferedFailsTheConnectAndIsNotFollowed() throws Exception {
        Path backendPipe = dir.resolve("backend.sock");
        try (AFUNIXServerSocket backend = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(backendPipe))) {
            backend.setSoTimeout(300);
            for (int protocol : new int[] {0, 2}) {
                Negotiated.Builder negotiated = Negotiated.newBuilder().setNegotiatedProtocol(protocol)
                        .setBackendPipe(backendPipe.toString()).setConnectionId(1);
                try (ScriptedBroker broker = ScriptedBroker.start(dir.resolve("broker-" + protocol + ".sock"),
                        (hello, out) -> out.write(FrameIO.encode(ScriptedBroker.reply(hello.getRequestId(),
                                HelloReply.newBuilder().setNegotiated(negotiated)))))) {
                    assertThatThrownBy(() -> client(broker).connect("echo", "1.0.0").close())
                            .isInstanceOf(IOException.class).isNotInstanceOf(BrokerRefusedException.class)
                            .hasMessage("broker negotiated protocol " + protocol + "; this client speaks 1 only");
                }
                assertThatThrownBy(() -> backend.accept().close()).as("no reconnect to the backend_pipe it named")
                        .isInstanceOf(SocketTimeoutException.class);
            }
        }
    }

    @Test
    void aRefusalWithoutTheRequestIdIsStillReportedAsTheRefusal() throws Exception {
        Refused refused = Refused.newBuilder().setCode(ErrorCode.ERROR_PEER_REJECTED)
                .setReason("initial Hello frame exceeds 64 KiB").build();
        try (ScriptedBroker broker = ScriptedBroker.start(dir.resolve("broker.sock"),
                (hello, out) -> out.write(
                        FrameIO.encode(ScriptedBroker.reply(0, HelloReply.newBuilder().setRefused(refused)))))) {
            assertThatThrownBy(() -> client(broker).connect("echo", "1.0.0").close())
                    .isInstanceOfSatisfying(BrokerRefusedException.class, e -> {
                        assertThat(e.code()).isEqualTo(ErrorCode.ERROR_PEER_REJECTED);
                        assertThat(e.reason()).isEqualTo("initial Hello frame exceeds 64 KiB");
                    });
        }
    }

    @Test
    void aBackendPipeThatIsNotAPathFailsTheConnectWithAnIOException() throws Exception {
        try (ScriptedBroker broker = ScriptedBroker.start(dir.resolve("broker.sock"),
                (hello, out) -> out.write(FrameIO.encode(ScriptedBroker.negotiated(hello.getRequestId(),
                        Negotiated.newBuilder().setBackendPipe(dir.resolve("backend.sock") + "\0junk")))))) {
            assertThatThrownBy(() -> client(broker).connect("echo", "1.0.0").close())
                    .isInstanceOf(IOException.class)
                    .hasMessageContaining("the broker named a backend_pipe that is not a socket path")
                    .hasMessageEndingWith("backend.sock?junk\"");
        }
        try (ScriptedBroker broker = ScriptedBroker.start(dir.resolve("broker2.sock"),
                (hello, out) -> out.write(FrameIO.encode(ScriptedBroker.negotiated(hello.getRequestId(),
                        Negotiated.newBuilder().setBackendPipe("/" + "d".repeat(200) + "/backend.sock")))))) {
            assertThatThrownBy(() -> client(broker).connect("echo", "1.0.0").close())
                    .isInstanceOf(IOException.class)
                    .hasMessageContaining("a backend_pipe that is 214 bytes long; a Unix socket address holds at most 107");
        }
    }

    @Test
    void aBackendPipeNothingListensAtFailsTheConnectNamingIt() throws Exception {
        // The caller never saw this path: the system's "No such file or directory" alone reads as
        // if the broker were gone.
        Path gone = dir.resolve("gone.sock");
        try (ScriptedBroker broker = ScriptedBroker.start(dir.resolve("broker.sock"),
                (hello, out) -> out.write(FrameIO.encode(negotiated(hello.getRequestId(), gone))))) {
            assertThatThrownBy(() -> client(broker).connect("echo", "1.0.0").close())
                    .isInstanceOf(SocketException.class)
                    .hasMessageStartingWith("no connection to the backend_pipe the broker named, \"" + gone + "\": ");
        }
        try (ScriptedBroker broker = ScriptedBroker.start(dir.resolve("broker2.sock"),
                (hello, out) -> out.write(FrameIO.encode(ScriptedBroker.negotiated(hello.getRequestId(),
                        Negotiated.newBuilder().setBackendPipe("")))))) {
            assertThatThrownBy(() -> client(broker).connect("echo", "1.0.0").close())
                    .isInstanceOf(IOException.class)
                    .hasMessage("the broker named no backend_pipe");
        }
    }

    @Test
    void aBrokersTextIsShownWithoutItsControlCharactersAndBounded() throws Exception {
        Refused refused = Refused.newBuilder().setCode(ErrorCode.ERROR_INTERNAL)
                .setReason("nope \u001b[31mred\nforged line").build();
        try (ScriptedBroker broker = ScriptedBroker.start(dir.resolve("broker.sock"),
                (hello, out) -> out.write(FrameIO.encode(
                        ScriptedBroker.reply(hello.getRequestId(), HelloReply.newBuilder().setRefused(refused)))))) {
            assertThatThrownBy(() -> client(broker).connect("echo", "1.0.0").close())
                    .isInstanceOfSatisfying(BrokerRefusedException.class, e -> {
                        assertThat(e.reason()).isEqualTo("nope ?[31mred?forged line");
                        assertThat(e.getMessage()).isEqualTo("ERROR_INTERNAL: nope ?[31mred?forged line");
                    });
        }
        String detail = "\u001b]0;title\u0007" + "x".repeat(10_000);
        try (AFUNIXServerSocket backend = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(dir.resolve("b.sock")));
                ScriptedBroker broker = ScriptedBroker.start(dir.resolve("broker2.sock"),
                        handOffThenRelay(dir.resolve("b.sock").toString(),
                                relay -> relay.setAccepted(false).setErrorDetail(detail)))) {
            backend.setSoTimeout(5_000);
            try (ServiceConnection connection = handingOff(broker).connect("echo", "1.0.0");
                    AFUNIXSocket accepted = backend.accept()) {
                assertThat(connection.route()).isEqualTo(Route.RECONNECTED);
                assertThat(connection.fallbackReason()).startsWith("?]0;title?xxx").endsWith("x...")
                        .hasSize(PeerText.REASON_MAX_CHARS + 3);
            }
        }
    }

    @Test
    void aHandedOffConnectionShowsTheBackendPipeItNeverUsedWithoutItsControlCharactersAndBounded()
            throws Exception {
        String pipe = "/tmp/\u001b]0;title\u0007\u202eevil" + "A".repeat(10_000);
        try (ScriptedBroker broker = ScriptedBroker.start(dir.resolve("broker.sock"),
                handOffThenRelay(pipe, UnaryOperator.identity()))) {
            try (ServiceConnection connection = handingOff(broker).connect("echo", "1.0.0")) {
                assertThat(connection.route()).isEqualTo(Route.HANDED_OFF);
                assertThat(connection.toString()).contains("backendPipe=/tmp/?]0;title??evilAAA")
                        .doesNotContain("\u001b").doesNotContain("\u202e").hasSizeLessThan(400);
            }
        }
    }

    @Test
    void aRelayLongerThanAnyRelayNeedsIsNotReadAndTheClientReconnects() throws Exception {
        try (AFUNIXServerSocket backend = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(dir.resolve("b.sock")));
                ScriptedBroker broker = ScriptedBroker.start(dir.resolve("broker.sock"),
                        handOffThenRelay(dir.resolve("b.sock").toString(),
                                relay -> relay.setErrorDetail("x".repeat(WireProtocol.MAX_HANDOFF_BODY))))) {
            backend.setSoTimeout(5_000);
            try (ServiceConnection connection = handingOff(broker).connect("echo", "1.0.0");
                    AFUNIXSocket accepted = backend.accept()) {
                assertThat(connection.route()).isEqualTo(Route.RECONNECTED);
                assertThat(connection.fallbackReason())
                        .isEqualTo("invalid relay: frame body exceeds " + WireProtocol.MAX_HANDOFF_BODY + " bytes");
            }
        }
    }

    private static BrokerClient client(ScriptedBroker broker) {
        return new BrokerClient(broker.path(), Duration.ofSeconds(5), Duration.ofSeconds(2), false);
    }

    private static BrokerClient handingOff(ScriptedBroker broker) {
        return new BrokerClient(broker.path(), Duration.ofSeconds(5), Duration.ofSeconds(2), true);
    }

    /** A broker that announces a handoff to {@code backendPipe}'s service, then relays an accepting ACK as changed. */
    private static ScriptedBroker.Script handOffThenRelay(String backendPipe,
            UnaryOperator<HandoffAck.Builder> relay) {
        byte[] token = new byte[16];
        long connectionId = 7;
        return (hello, out) -> {
            out.write(FrameIO.encode(ScriptedBroker.handoffNegotiated(hello.getRequestId(), backendPipe, token,
                    connectionId)));
            out.write(FrameIO.encode(ScriptedBroker.relay(token, connectionId, relay)));
        };
    }

    private static Frame negotiated(long requestId, Path backendPipe) {
        return ScriptedBroker.negotiated(requestId, Negotiated.newBuilder()
                .setNegotiatedProtocol(WireProtocol.PROTOCOL_VERSION).setBackendPipe(backendPipe.toString())
                .setConnectionId(9));
    }
}
