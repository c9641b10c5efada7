package io.handoffbroker.backend;

import java.io.IOException;
import org.newsclub.net.unix.AFUNIXSocket;

/**
 * Serves one client connection, whichever route it came by. The socket is in
 * blocking mode. The connection is closed when this returns or throws.
 *
 * <p><b>The client speaks first: a handler must not write before it has read the client's
 * first bytes.</b> On a handed-off connection the broker writes its relay after this
 * backend's ACK, while the handler may already be running, and the protocol rests on the
 * relay being the first frame the client reads. Bytes a handler writes first can get there
 * before it: the client then takes them for the relay, finds none valid (at once, or when
 * its relay wait ends), gives the connection up and reconnects through {@code backend_pipe},
 * where the handler runs again, having run once for nothing. It depends on timing, so a
 * handler that writes first may pass its tests and fail in production; the SDK does not
 * enforce the rule. A service whose protocol is server-first (the server greets, the client
 * answers) must therefore not take handoffs: give its {@link BackendServer} no handoff
 * endpoint, or set {@code handoff-enabled: false} for the service in the broker's
 * configuration ({@code broker.services[].handoff-enabled}). Its clients then all come
 * through {@code backend_pipe}, where the handler's connection is the client's own from the
 * start and writing first is safe.
 *
 * <p>A handler that needs only the connection's byte streams should implement
 * {@link StreamHandler} instead: handed-off connections then reach it without the
 * socket object, which is costly to build from a received descriptor.
 */
@FunctionalInterface
public interface ConnectionHandler {

    void serve(AFUNIXSocket connection) throws IOException;
}
