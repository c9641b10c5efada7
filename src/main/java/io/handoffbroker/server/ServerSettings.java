package io.handoffbroker.server;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * What the listener needs to run, already validated by the configuration layer.
 *
 * @param socketPath where clients connect
 * @param helloTimeout how long a new connection has to deliver its complete Hello
 * @param maxConnections open client connections at most; beyond it the broker stops
 *     accepting and new clients wait in the listen backlog until a slot frees
 * @param backlog the listen backlog
 * @param peerPolicy who may connect
 * @param helloMemory bytes all Hellos being received may take beyond the first kilobyte of each
 */
public record ServerSettings(Path socketPath, Duration helloTimeout, int maxConnections, int backlog,
        PeerPolicy peerPolicy, long helloMemory) {

    /**
     * 16 MiB: about 260 Hellos of the largest size at once, an eighth of the broker's heap with
     * config/jvm.options; with each connection's first kilobyte (10 MiB at 10,240 connections)
     * what stalled Hellos can hold at most.
     */
    public static final long DEFAULT_HELLO_MEMORY = 16L << 20;

    public ServerSettings(Path socketPath, Duration helloTimeout, int maxConnections, int backlog,
            PeerPolicy peerPolicy) {
        this(socketPath, helloTimeout, maxConnections, backlog, peerPolicy, DEFAULT_HELLO_MEMORY);
    }

    public ServerSettings {
        Objects.requireNonNull(socketPath, "socketPath");
        Objects.requireNonNull(peerPolicy, "peerPolicy");
        if (helloTimeout.isNegative() || helloTimeout.isZero()) {
            throw new IllegalArgumentException("hello timeout must be positive, got " + helloTimeout);
        }
        if (maxConnections < 1) {
            throw new IllegalArgumentException("max connections must be at least 1, got " + maxConnections);
        }
        if (backlog < 1) {
            throw new IllegalArgumentException("backlog must be at least 1, got " + backlog);
        }
        if (helloMemory < 0) {
            throw new IllegalArgumentException("hello memory must not be negative, got " + helloMemory);
        }
    }
}
