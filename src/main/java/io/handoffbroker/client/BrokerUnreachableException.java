package io.handoffbroker.client;

import java.net.SocketException;
import java.nio.file.Path;

/**
 * No broker could be connected to at the client's broker socket: nothing is there, or a socket
 * file is there that nobody listens on (a broker that is not running, or the wrong path). A
 * {@link SocketException}, as the failed connect was, for callers that retry on one. A broker
 * that is there but does not take the connection in time (its backlog full) is a
 * {@link java.net.SocketTimeoutException} instead, and a failure after the broker answered is
 * neither.
 */
public final class BrokerUnreachableException extends SocketException {

    private static final long serialVersionUID = 1L;

    private final transient Path brokerSocket;

    BrokerUnreachableException(Path brokerSocket, SocketException cause) {
        super("no broker at " + brokerSocket + ": " + cause.getMessage());
        this.brokerSocket = brokerSocket;
        initCause(cause);
    }

    /** The broker socket the client was given. */
    public Path brokerSocket() {
        return brokerSocket;
    }
}
