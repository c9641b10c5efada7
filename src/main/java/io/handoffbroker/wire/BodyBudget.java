package io.handoffbroker.wire;

/**
 * Memory shared by the decoders of one reader for the frame bodies they are receiving, beyond
 * the {@value FrameDecoder#FREE_BODY_BYTES} bytes each may always take. Without it, a peer
 * announcing the largest body and sending it slowly (or not at all) makes its reader hold that
 * much memory per connection: thousands of such connections exhaust a small heap within the
 * Hello time-out.
 */
public interface BodyBudget {

    /** No limit: for peers the reader trusts (a backend's control connection). */
    BodyBudget UNLIMITED = new BodyBudget() {
        @Override
        public boolean tryReserve(int bytes) {
            return true;
        }

        @Override
        public void release(int bytes) {
        }
    };

    /** Takes {@code bytes} from the budget if it has them; false, taking nothing, if not. */
    boolean tryReserve(int bytes);

    /** Gives back {@code bytes} taken earlier. */
    void release(int bytes);
}
