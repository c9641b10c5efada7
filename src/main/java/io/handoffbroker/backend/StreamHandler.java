package io.handoffbroker.backend;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import org.newsclub.net.unix.AFUNIXSocket;

/**
 * A {@link ConnectionHandler} that needs only the connection's two byte streams.
 *
 * <p>Why it exists: a handed-off connection arrives as a bare descriptor, and building a
 * junixsocket socket object from it costs tens of microseconds of CPU, spent just when
 * the client, told its handoff was accepted, is about to send its first request. For a
 * handler of this kind the {@link BackendServer} serves handed-off connections through
 * plain file streams on the descriptor (made blocking first) and never builds that
 * object; reconnecting clients still come through an accepted socket's streams. Same
 * contract as {@link ConnectionHandler}: blocking streams, the client speaks first (the
 * handler must not write before it has read the client's first bytes; a server-first
 * protocol must not take handoffs, see there), the connection is closed when this returns
 * or throws. On both routes closing {@code in}
 * shuts the connection down for reading only and closing {@code out} for writing only,
 * as a socket's streams do.
 */
@FunctionalInterface
public interface StreamHandler extends ConnectionHandler {

    void serve(InputStream in, OutputStream out) throws IOException;

    @Override
    default void serve(AFUNIXSocket connection) throws IOException {
        serve(connection.getInputStream(), connection.getOutputStream());
    }
}
