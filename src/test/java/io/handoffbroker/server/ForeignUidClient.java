package io.handoffbroker.server;

import io.handoffbroker.wire.Envelope;
import io.handoffbroker.wire.FrameIO;
import io.handoffbroker.wire.FrameLimit;
import io.handoffbroker.wire.WireProtocol;
import io.handoffbroker.wire.proto.Frame;
import io.handoffbroker.wire.proto.FrameKind;
import io.handoffbroker.wire.proto.Hello;
import io.handoffbroker.wire.proto.HelloReply;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A tiny client that {@link PeerPolicyTest} runs in a child JVM under another
 * uid. It connects to the broker socket given as the only argument, sends one
 * Hello and prints what it saw, one {@code key=value} per line:
 * {@code uid=<its uid>}, then {@code result=} one of {@code negotiated},
 * {@code refused:<ERROR_CODE>}, {@code closed} (the broker closed without a byte),
 * {@code connect-failed:<reason>}, {@code no-answer} or {@code error:<reason>}.
 *
 * <p>Needs only the JDK, protobuf and the broker's wire classes. Not a test:
 * surefire does not pick it up by name.
 */
final class ForeignUidClient {

    private ForeignUidClient() {
    }

    public static void main(String[] args) {
        System.out.println("uid=" + new com.sun.security.auth.module.UnixSystem().getUid());
        System.out.println("result=" + run(Path.of(args[0])));
        System.out.flush();
    }

    private static String run(Path socketPath) {
        UnixChannelClient client;
        try {
            client = UnixChannelClient.connect(socketPath);
        } catch (IOException e) {
            return "connect-failed:" + e;
        }
        try (client) {
            Hello hello = Hello.newBuilder().setClientMinProtocol(1).setClientMaxProtocol(1).setServiceName("echo")
                    .setWantedVersion("1.2.3").build();
            // The broker may close before the Hello is out; what it sent back (if anything) decides.
            client.send(FrameIO.encode(Envelope.frame(FrameKind.FRAME_KIND_REQUEST, WireProtocol.PAYLOAD_CONTROL, 1,
                    hello)), Duration.ofSeconds(5));
            UnixChannelClient.Received received = client.readUntilClosed(Duration.ofSeconds(10));
            if (received.bytes().length == 0) {
                return received.closed() ? "closed" : "no-answer";
            }
            Frame frame = FrameIO.read(new ByteArrayInputStream(received.bytes()), FrameLimit.ANY);
            HelloReply reply = HelloReply.parseFrom(frame.getPayload());
            return reply.hasNegotiated() ? "negotiated" : "refused:" + reply.getRefused().getCode();
        } catch (IOException | RuntimeException e) {
            return "error:" + e;
        }
    }
}
