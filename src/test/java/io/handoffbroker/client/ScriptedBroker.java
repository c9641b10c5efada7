package io.handoffbroker.client;

import com.google.protobuf.ByteString;
import io.handoffbroker.wire.Envelope;
import io.handoffbroker.wire.FrameIO;
import io.handoffbroker.wire.FrameLimit;
import io.handoffbroker.wire.WireProtocol;
import io.handoffbroker.wire.proto.Frame;
import io.handoffbroker.wire.proto.FrameKind;
import io.handoffbroker.wire.proto.HandoffAck;
import io.handoffbroker.wire.proto.HelloReply;
import io.handoffbroker.wire.proto.Negotiated;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.function.UnaryOperator;
import org.jspecify.annotations.Nullable;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/** A broker that answers one connection's Hello with a script, and then holds it until closed. */
final class ScriptedBroker implements AutoCloseable {

    interface Script {
        /** Answers {@code hello}, the frame the client sent, on {@code out}. */
        void play(Frame hello, OutputStream out) throws IOException;
    }

    private final AFUNIXServerSocket listener;
    private final Path path;
    private final CompletableFuture<Void> served;
    private final CompletableFuture<Integer> firstByteAfterScript = new CompletableFuture<>();
    private volatile @Nullable AFUNIXSocket connection;

    private ScriptedBroker(AFUNIXServerSocket listener, Path path, Script script) {
        this.listener = listener;
        this.path = path;
        // A thread of its own, not the common pool: it blocks in accept and read, and tests may run
        // several brokers side by side, more than the pool has threads.
        this.served = CompletableFuture.runAsync(() -> {
            try (AFUNIXSocket accepted = listener.accept()) {
                connection = accepted;
                Frame hello = FrameIO.read(accepted.getInputStream(), FrameLimit.HELLO);
                script.play(hello, accepted.getOutputStream());
                // The client's first byte after the reply, or -1 when it closes.
                firstByteAfterScript.complete(accepted.getInputStream().read());
            } catch (IOException gone) {
                // The client gave up or the test ended: what the script was for. A test waiting
                // for the client's next byte learns why there is none.
                firstByteAfterScript.completeExceptionally(gone);
            }
        }, command -> Thread.ofPlatform().daemon().name("scripted-broker").start(command));
    }

    static ScriptedBroker start(Path path, Script script) throws IOException {
        return new ScriptedBroker(AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(path)), path, script);
    }

    Path path() {
        return path;
    }

    /**
     * The first byte the client sent after the script's reply, or -1 when it closed instead: on a
     * handed-off connection, what a backend would read.
     */
    CompletableFuture<Integer> firstByteAfterScript() {
        return firstByteAfterScript;
    }

    /** A broker's reply to the Hello with {@code requestId}. */
    static Frame reply(long requestId, HelloReply.Builder reply) {
        return Envelope.frame(FrameKind.FRAME_KIND_RESPONSE, WireProtocol.PAYLOAD_CONTROL, requestId, reply.build());
    }

    /** A Negotiated for protocol 1 answering the Hello with {@code requestId}. */
    static Frame negotiated(long requestId, Negotiated.Builder negotiated) {
        return reply(requestId, HelloReply.newBuilder()
                .setNegotiated(negotiated.setNegotiatedProtocol(WireProtocol.PROTOCOL_VERSION)));
    }

    /** A Negotiated answering the Hello with {@code requestId} that announces a handoff with {@code token}. */
    static Frame handoffNegotiated(long requestId, String backendPipe, byte[] token, long connectionId) {
        return negotiated(requestId, Negotiated.newBuilder().setBackendPipe(backendPipe)
                .setServerCapabilities(WireProtocol.CAP_HANDLE_PASSING).setHandlePassedToken(ByteString.copyFrom(token))
                .setConnectionId(connectionId));
    }

    /** The relay of that handoff: an accepting ACK, as {@code change} alters it. */
    static Frame relay(byte[] token, long connectionId, UnaryOperator<HandoffAck.Builder> change) {
        return Envelope.frame(FrameKind.FRAME_KIND_EVENT, WireProtocol.PAYLOAD_HANDOFF, connectionId,
                change.apply(HandoffAck.newBuilder().setToken(ByteString.copyFrom(token)).setAccepted(true)
                        .setCorrelationId(connectionId)).build());
    }

    @Override
    public void close() throws IOException {
        listener.close();
        // Cancelling the future does not interrupt its thread: a script still writing ends when its
        // connection is closed under it.
        AFUNIXSocket accepted = connection;
        if (accepted != null) {
            accepted.close();
        }
        served.cancel(false);
    }
}
