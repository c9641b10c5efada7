package io.handoffbroker.server;

/**
 * Whether the broker takes new connections, and if not why: one value, read at one moment, so
 * that health never combines two readings taken either side of a change.
 */
public enum AcceptState {
    /** The listener is watched: new clients are accepted as they come. */
    ACCEPTING,
    /** The connection limit is reached: new clients wait in the backlog until a connection closes. */
    AT_CONNECTION_LIMIT,
    /** An accept failed (out of descriptors, typically): accepting is tried again after a pause. */
    BACKING_OFF,
    /** The listener is closed (not started, drained or stopped), or its event loop has stopped. */
    CLOSED
}
