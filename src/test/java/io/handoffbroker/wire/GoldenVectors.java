package io.handoffbroker.wire;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import io.handoffbroker.wire.proto.Frame;
import io.handoffbroker.wire.proto.HandoffAck;
import io.handoffbroker.wire.proto.HandoffOffer;
import io.handoffbroker.wire.proto.Hello;
import io.handoffbroker.wire.proto.HelloReply;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** Loads {@code wire-v1-vectors.json} (the golden vectors of wire-v1.md) from the test classpath. */
final class GoldenVectors {

    static final String RESOURCE = "/wire-v1-vectors.json";

    /** The inner message types a valid vector's {@code payload_type} may name. */
    static final Map<String, Message> PAYLOAD_TYPES = Map.of(
            "Hello", Hello.getDefaultInstance(),
            "HelloReply", HelloReply.getDefaultInstance(),
            "HandoffOffer", HandoffOffer.getDefaultInstance(),
            "HandoffAck", HandoffAck.getDefaultInstance());

    /** One vector of the file. {@code frame}, {@code payloadType} and {@code payload} are null for invalid ones. */
    record Vector(String name, String what, boolean valid, byte[] framed, JsonNode frame, String payloadType,
            JsonNode payload, String expect) {

        @Override
        public String toString() {
            return name;
        }

        /** The expected envelope, parsed from the {@code frame} JSON (payload left out, as in the file). */
        Frame expectedEnvelope() {
            return (Frame) parseJson(frame, Frame.newBuilder());
        }

        /** The expected inner message, parsed from the {@code payload} JSON with its payload_type. */
        Message expectedPayload() {
            Message prototype = PAYLOAD_TYPES.get(payloadType);
            if (prototype == null) {
                throw new AssertionError("vector " + name + " has unknown payload_type " + payloadType);
            }
            return parseJson(payload, prototype.newBuilderForType());
        }

        /** The full frame the vector describes: envelope JSON plus the payload's bytes. */
        Frame expectedFrame() {
            return expectedEnvelope().toBuilder().setPayload(expectedPayload().toByteString()).build();
        }

        /** Decodes {@code bytes} with this vector's payload type. */
        Message parsePayload(ByteString bytes) throws InvalidProtocolBufferException {
            return PAYLOAD_TYPES.get(payloadType).getParserForType().parseFrom(bytes);
        }
    }

    record File(String tokenHex, List<Vector> vectors) {

        Vector named(String name) {
            return vectors.stream().filter(v -> v.name().equals(name)).findFirst()
                    .orElseThrow(() -> new AssertionError("no vector named " + name));
        }

        List<Vector> valid() {
            return vectors.stream().filter(Vector::valid).toList();
        }

        List<Vector> invalid() {
            return vectors.stream().filter(v -> !v.valid()).toList();
        }
    }

    private static volatile File cached;

    private GoldenVectors() {
    }

    static File load() {
        File file = cached;
        if (file == null) {
            file = read();
            cached = file;
        }
        return file;
    }

    private static File read() {
        JsonNode root;
        try (InputStream in = GoldenVectors.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new AssertionError(RESOURCE + " is not on the test classpath");
            }
            root = JsonMapper.shared().readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<Vector> vectors = new ArrayList<>();
        for (JsonNode v : root.required("vectors").values()) {
            boolean valid = v.required("valid").asBoolean();
            vectors.add(new Vector(
                    v.required("name").asString(),
                    v.required("what").asString(),
                    valid,
                    HexFormat.of().parseHex(v.required("framed_hex").asString()),
                    valid ? v.required("frame") : null,
                    valid ? v.required("payload_type").asString() : null,
                    valid ? v.required("payload") : null,
                    valid ? null : v.required("expect").asString()));
        }
        return new File(root.required("token_hex").asString(), List.copyOf(vectors));
    }

    static Message parseJson(JsonNode json, Message.Builder builder) {
        try {
            JsonFormat.parser().merge(json.toString(), builder);
        } catch (InvalidProtocolBufferException e) {
            throw new AssertionError("vector JSON does not follow the protobuf JSON mapping: " + json, e);
        }
        return builder.build();
    }
}
