/**
 * The few Unix-socket operations the JDK cannot do and every party needs, on
 * top of junixsocket: closing a descriptor that was passed to another process
 * without shutting the shared socket down, the socket-file chores of a
 * listener (private directory, stale-file detection, removing only the file it
 * bound), waiting on a selector through signals, and asking the kernel whether a
 * descriptor is readable without waiting ({@code poll(2)} through the JDK's foreign
 * function API, the one native call made outside junixsocket).
 *
 * <p>This package never decides anything about the protocol and never keeps a
 * descriptor: callers own every socket they pass in. It must not depend on
 * Spring, the server or the SDKs; the SDKs and the broker both use it.
 */
@NullMarked
package io.handoffbroker.unix;

import org.jspecify.annotations.NullMarked;
