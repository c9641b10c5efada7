package io.handoffbroker.server;

import org.newsclub.net.unix.AFUNIXSocketChannel;

/**
 * The event loop's services to the code it calls: a router that has more to read
 * on another channel (a handoff's ACK) waits for it on the loop that accepted the
 * client, instead of handing the wait to another thread whose wake-up would cost
 * more than the read.
 *
 * <p>Loop thread only: call these from {@link ConnectionRouter#route} or from a
 * callback the loop runs. Callbacks run on the loop thread and must not block.
 */
public interface Reactor {

    /**
     * Calls {@code onReadable} once the channel has bytes or its peer hung up, or
     * {@code onDeadline} once {@code deadlineNanos} ({@link System#nanoTime()}) has
     * passed, whichever comes first; exactly one of them, once. The channel must be
     * non-blocking; {@code descriptor} is its number, which the caller keeps. Calling again for the
     * same channel (after a partial read) re-arms it.
     */
    void awaitReadable(AFUNIXSocketChannel channel, int descriptor, long deadlineNanos, Runnable onReadable,
            Runnable onDeadline);

    /** True on the loop thread itself. */
    boolean inLoop();
}
