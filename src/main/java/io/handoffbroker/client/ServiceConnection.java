package io.handoffbroker.client;

import io.handoffbroker.wire.PeerText;
import io.handoffbroker.wire.proto.Negotiated;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Objects;
import org.newsclub.net.unix.AFUNIXSocket;

/**
 * An open connection to a backend, and how it got there. The caller owns it and
 * must close it.
 *
 * @param fallbackReason why a handoff was not used; empty when it was, or when this
 *     client did not ask for one
 */
public record ServiceConnection(AFUNIXSocket socket, Route route, Negotiated negotiated, String fallbackReason)
        implements AutoCloseable {

    /** @throws NullPointerException when an argument is null */
    public ServiceConnection {
        Objects.requireNonNull(socket, "socket is null");
        Objects.requireNonNull(route, "route is null");
        Objects.requireNonNull(negotiated, "negotiated is null");
        Objects.requireNonNull(fallbackReason, "fallbackReason is null");
    }

    public InputStream in() throws IOException {
        return socket.getInputStream();
    }

    public OutputStream out() throws IOException {
        return socket.getOutputStream();
    }

    /** The broker-assigned id of the connection the Hello went over. */
    public long connectionId() {
        return negotiated.getConnectionId();
    }

    /**
     * Without the {@code Negotiated}: it carries the handoff token, which is never rendered. The
     * broker's {@code backend_pipe} as {@link PeerText} shows it: on the handoff route nothing
     * connects to it, so nothing else has checked it.
     */
    @Override
    public String toString() {
        return "ServiceConnection[route=" + route + ", connectionId=" + connectionId() + ", backendPipe="
                + PeerText.printable(negotiated.getBackendPipe(), PeerText.REASON_MAX_CHARS) + ", fallbackReason="
                + fallbackReason + "]";
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
