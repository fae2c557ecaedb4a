package io.chronik.compat;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.CreateTopicsOptions;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.InvalidConfigurationException;
import org.apache.kafka.common.errors.InvalidPartitionsException;
import org.apache.kafka.common.errors.InvalidReplicationFactorException;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.errors.UnsupportedVersionException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Apache Kafka Java client (kafka-clients) against a Chronik broker.
 *
 * <p>Usage: {@code ClientCompat BOOTSTRAP}. Prints one line per check: PASS, FAIL (with the reason)
 * or XFAIL (a feature the broker does not implement yet: it answered UNSUPPORTED_VERSION or does
 * not advertise the API), then "N passed, N failed". Exit status 1 if anything failed.
 */
public final class ClientCompat {
    private static final String[] COMPRESSIONS = {"none", "gzip", "snappy", "lz4", "zstd"};
    private static final int PER_ACKS = 20;

    private final String bootstrap;
    private final String run = UUID.randomUUID().toString().substring(0, 8);
    private int passed, failed, xfailed;
    private Admin admin;

    private ClientCompat(String bootstrap) {
        this.bootstrap = bootstrap;
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: ClientCompat BOOTSTRAP");
            System.exit(2);
        }
        ClientCompat c = new ClientCompat(args[0]);
        c.runAll();
        System.out.printf("java: %d passed, %d failed, %d expected failures (XFAIL)%n", c.passed, c.failed, c.xfailed);
        System.out.printf("%d passed, %d failed%n", c.passed, c.failed);
        System.exit(c.failed == 0 ? 0 : 1);
    }

    // --- reporting -------------------------------------------------------------------------

    /** A check body; throws to fail, throws Xfail to mark an unimplemented feature. */
    interface Check {
        void run() throws Exception;
    }

    static final class Xfail extends Exception {
        Xfail(String msg) {
            super(msg);
        }
    }

    static final class CheckFailed extends Exception {
        CheckFailed(String msg) {
            super(msg);
        }
    }

    private static void check(boolean ok, String fmt, Object... args) throws CheckFailed {
        if (!ok) {
            throw new CheckFailed(String.format(fmt, args));
        }
    }

    private void test(String name, Check body) {
        long t0 = System.nanoTime();
        try {
            body.run();
            passed++;
            System.out.printf("PASS %s (%d ms)%n", name, (System.nanoTime() - t0) / 1_000_000);
        } catch (Xfail x) {
            xfailed++;
            System.out.printf("XFAIL %s: %s%n", name, x.getMessage());
        } catch (Throwable e) {
            Throwable cause = unwrap(e);
            if (cause instanceof UnsupportedVersionException) {
                xfailed++;
                System.out.printf("XFAIL %s: broker does not support it yet: %s%n", name, cause.getMessage());
                return;
            }
            failed++;
            System.out.printf("FAIL %s: %s%n", name, describe(cause));
        }
        System.out.flush();
    }

    private static Throwable unwrap(Throwable e) {
        while ((e instanceof ExecutionException || e.getClass().getName().endsWith("KafkaFuture$CompletionException"))
                && e.getCause() != null) {
            e = e.getCause();
        }
        return e;
    }

    private static String describe(Throwable e) {
        String msg = e.getClass().getSimpleName() + ": " + e.getMessage();
        return msg.replace('\n', ' ');
    }

    // --- clients ---------------------------------------------------------------------------

    private String topic(String name) {
        return "java-" + run + "-" + name;
    }

    private Admin newAdmin() {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30000);
        p.put(AdminClientConfig.CLIENT_ID_CONFIG, "chronik-java-compat-admin");
        return Admin.create(p);
    }

    private KafkaProducer<byte[], byte[]> newProducer(String acks, boolean idempotent, String compression) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.ACKS_CONFIG, acks);
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, idempotent);
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, compression);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 30000);
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 30000);
        p.put(ProducerConfig.CLIENT_ID_CONFIG, "chronik-java-compat-producer");
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        return new KafkaProducer<>(p);
    }

    private KafkaConsumer<byte[], byte[]> newConsumer(String groupId) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        if (groupId != null) {
            p.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
            p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        }
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "chronik-java-compat-consumer");
        p.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, 2 * 1024 * 1024);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        return new KafkaConsumer<>(p);
    }

    /** Reads every partition of topic from the beginning with assign() until want records arrived. */
    private List<ConsumerRecord<byte[], byte[]>> consumeAll(String topic, int partitions, int want) throws Exception {
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> c = newConsumer(null)) {
            List<TopicPartition> tps = new ArrayList<>();
            for (int i = 0; i < partitions; i++) {
                tps.add(new TopicPartition(topic, i));
            }
            c.assign(tps);
            c.seekToBeginning(tps);
            long deadline = System.currentTimeMillis() + 30_000;
            while (out.size() < want && System.currentTimeMillis() < deadline) {
                ConsumerRecords<byte[], byte[]> recs = c.poll(Duration.ofMillis(500));
                recs.forEach(out::add);
            }
            // One more short poll: nothing beyond what was produced may show up.
            c.poll(Duration.ofMillis(200)).forEach(out::add);
        }
        return out;
    }

    private static byte[] b(String s) {
        return s == null ? null : s.getBytes(StandardCharsets.UTF_8);
    }

    private static String s(byte[] b) {
        return b == null ? null : new String(b, StandardCharsets.UTF_8);
    }

    private void createTopics(NewTopic... topics) throws Exception {
        admin.createTopics(Arrays.asList(topics)).all().get(30, TimeUnit.SECONDS);
    }

    // --- the checks ------------------------------------------------------------------------

    private void runAll() {
        admin = newAdmin();
        try {
            runChecks();
        } finally {
            admin.close(Duration.ofSeconds(10));
        }
    }

    private void runChecks() {
        test("admin: describe cluster", () -> {
            DescribeClusterResult r = admin.describeCluster();
            Collection<Node> nodes = r.nodes().get(30, TimeUnit.SECONDS);
            check(nodes.size() == 1, "want 1 node, got %s", nodes);
            Node controller = r.controller().get(30, TimeUnit.SECONDS);
            check(controller != null && !controller.isEmpty(), "no controller: %s", controller);
            check(r.clusterId().get() != null, "null cluster id");
        });

        test("admin: create topics (1 and 3 partitions, configs)", () -> {
            NewTopic one = new NewTopic(topic("one"), 1, (short) 1);
            NewTopic three = new NewTopic(topic("three"), 3, (short) 1)
                    .configs(Map.of("retention.ms", "12345", "cleanup.policy", "delete", "max.message.bytes", "200000"));
            createTopics(one, three);
            Map<String, TopicDescription> d = admin.describeTopics(List.of(topic("one"), topic("three")))
                    .allTopicNames().get(30, TimeUnit.SECONDS);
            check(d.get(topic("one")).partitions().size() == 1, "one: %s", d.get(topic("one")));
            check(d.get(topic("three")).partitions().size() == 3, "three: %s", d.get(topic("three")));
            check(d.get(topic("three")).topicId() != null, "no topic id");
            Set<String> names = admin.listTopics().names().get(30, TimeUnit.SECONDS);
            check(names.contains(topic("one")) && names.contains(topic("three")), "listTopics misses them: %s", names);
        });

        test("admin: create duplicate topic fails with TopicExistsException", () -> {
            try {
                createTopics(new NewTopic(topic("one"), 1, (short) 1));
                throw new CheckFailed("created a duplicate");
            } catch (ExecutionException e) {
                check(e.getCause() instanceof TopicExistsException, "got %s", describe(e.getCause()));
            }
        });

        test("admin: invalid create requests are rejected with the right exception", () -> {
            expectCreateFailure(new NewTopic(topic("rf3"), 1, (short) 3), InvalidReplicationFactorException.class);
            expectCreateFailure(new NewTopic(topic("p0"), 0, (short) 1), InvalidPartitionsException.class);
            expectCreateFailure(new NewTopic(topic("badcfg"), 1, (short) 1).configs(Map.of("cleanup.policy", "bogus")),
                    InvalidConfigurationException.class);
        });

        test("admin: create topic validate-only does not create it", () -> {
            admin.createTopics(List.of(new NewTopic(topic("validate"), 2, (short) 1)),
                    new CreateTopicsOptions().validateOnly(true)).all().get(30, TimeUnit.SECONDS);
            Set<String> names = admin.listTopics().names().get(30, TimeUnit.SECONDS);
            check(!names.contains(topic("validate")), "validate-only created the topic");
        });

        test("admin: describe configs", () -> {
            ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, topic("three"));
            Config cfg = admin.describeConfigs(List.of(res)).all().get(30, TimeUnit.SECONDS).get(res);
            ConfigEntry ret = cfg.get("retention.ms");
            check(ret != null && "12345".equals(ret.value()), "retention.ms = %s", ret);
            check(ret.source() == ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG, "retention.ms source %s", ret.source());
            ConfigEntry seg = cfg.get("segment.bytes");
            check(seg != null && seg.source() == ConfigEntry.ConfigSource.DEFAULT_CONFIG, "segment.bytes = %s", seg);
            check(cfg.get("max.message.bytes") != null && "200000".equals(cfg.get("max.message.bytes").value()),
                    "max.message.bytes = %s", cfg.get("max.message.bytes"));
        });

        for (String comp : COMPRESSIONS) {
            test("produce/consume compression=" + comp + " (acks=all idempotent, acks=1, acks=0)", () -> produceConsume(comp));
        }

        test("produce/consume a record near max.message.bytes (1,000,000-byte value)", () -> {
            String t = topic("big");
            createTopics(new NewTopic(t, 1, (short) 1));
            byte[] value = new byte[1_000_000];
            for (int i = 0; i < value.length; i++) {
                value[i] = (byte) ('a' + i % 26);
            }
            try (KafkaProducer<byte[], byte[]> p = newProducer("all", true, "none")) {
                RecordMetadata md = p.send(new ProducerRecord<>(t, 0, b("big"), value)).get(30, TimeUnit.SECONDS);
                check(md.offset() == 0, "offset %d", md.offset());
            }
            List<ConsumerRecord<byte[], byte[]>> got = consumeAll(t, 1, 1);
            check(got.size() == 1, "consumed %d records", got.size());
            check(Arrays.equals(got.get(0).value(), value), "value differs (%d bytes)", got.get(0).value().length);
        });

        test("produce a record over the topic's max.message.bytes fails with RecordTooLargeException", () -> {
            String t = topic("small");
            createTopics(new NewTopic(t, 1, (short) 1).configs(Map.of("max.message.bytes", "10000")));
            try (KafkaProducer<byte[], byte[]> p = newProducer("all", true, "none")) {
                try {
                    p.send(new ProducerRecord<>(t, 0, b("k"), new byte[20_000])).get(30, TimeUnit.SECONDS);
                    throw new CheckFailed("the broker accepted a 20000-byte record");
                } catch (ExecutionException e) {
                    check(e.getCause() instanceof RecordTooLargeException, "got %s", describe(e.getCause()));
                }
                RecordMetadata md = p.send(new ProducerRecord<>(t, 0, b("k"), new byte[5_000])).get(30, TimeUnit.SECONDS);
                check(md.offset() == 0, "a fitting record after the rejected one got offset %d", md.offset());
            }
        });

        test("admin: list offsets (earliest, latest, max timestamp, by timestamp)", () -> {
            String t = topic("offsets");
            createTopics(new NewTopic(t, 1, (short) 1));
            long base = System.currentTimeMillis() - 60_000;
            try (KafkaProducer<byte[], byte[]> p = newProducer("all", true, "none")) {
                for (int i = 0; i < 5; i++) {
                    p.send(new ProducerRecord<>(t, 0, base + i * 1000L, b("k" + i), b("v" + i))).get(30, TimeUnit.SECONDS);
                }
            }
            TopicPartition tp = new TopicPartition(t, 0);
            check(offset(tp, OffsetSpec.earliest()) == 0, "earliest");
            check(offset(tp, OffsetSpec.latest()) == 5, "latest %d", offset(tp, OffsetSpec.latest()));
            check(offset(tp, OffsetSpec.maxTimestamp()) == 4, "max timestamp %d", offset(tp, OffsetSpec.maxTimestamp()));
            check(offset(tp, OffsetSpec.forTimestamp(base + 1500)) == 2, "by timestamp %d",
                    offset(tp, OffsetSpec.forTimestamp(base + 1500)));
            check(offset(tp, OffsetSpec.forTimestamp(base + 99_000)) == -1, "after the last timestamp: %d",
                    offset(tp, OffsetSpec.forTimestamp(base + 99_000)));
        });

        test("consumer: seek to an offset and position/endOffsets", () -> {
            String t = topic("seek");
            createTopics(new NewTopic(t, 1, (short) 1));
            try (KafkaProducer<byte[], byte[]> p = newProducer("all", true, "lz4")) {
                for (int i = 0; i < 10; i++) {
                    p.send(new ProducerRecord<>(t, 0, b("k" + i), b("v" + i)));
                }
                p.flush();
            }
            TopicPartition tp = new TopicPartition(t, 0);
            try (KafkaConsumer<byte[], byte[]> c = newConsumer(null)) {
                c.assign(List.of(tp));
                Map<TopicPartition, Long> end = c.endOffsets(List.of(tp), Duration.ofSeconds(30));
                check(end.get(tp) == 10, "endOffsets %s", end);
                c.seek(tp, 7);
                List<ConsumerRecord<byte[], byte[]>> got = new ArrayList<>();
                long deadline = System.currentTimeMillis() + 30_000;
                while (got.size() < 3 && System.currentTimeMillis() < deadline) {
                    c.poll(Duration.ofMillis(300)).forEach(got::add);
                }
                check(got.size() == 3 && got.get(0).offset() == 7 && "v9".equals(s(got.get(2).value())),
                        "after seek(7): %d records, first offset %s", got.size(), got.isEmpty() ? "-" : got.get(0).offset());
                check(c.position(tp) == 10, "position %d", c.position(tp));
            }
        });

        test("admin: create partitions (1 -> 3)", () -> {
            String t = topic("one");
            admin.createPartitions(Map.of(t, NewPartitions.increaseTo(3))).all().get(30, TimeUnit.SECONDS);
            TopicDescription d = admin.describeTopics(List.of(t)).allTopicNames().get(30, TimeUnit.SECONDS).get(t);
            check(d.partitions().size() == 3, "partitions after increase: %d", d.partitions().size());
            try (KafkaProducer<byte[], byte[]> p = newProducer("all", true, "none")) {
                RecordMetadata md = p.send(new ProducerRecord<>(t, 2, b("k"), b("v"))).get(30, TimeUnit.SECONDS);
                check(md.partition() == 2 && md.offset() == 0, "produce to new partition: %s", md);
            }
        });

        test("admin: incremental alter configs", () -> {
            String t = topic("three");
            ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, t);
            admin.incrementalAlterConfigs(Map.of(res, List.of(
                    new AlterConfigOp(new ConfigEntry("retention.ms", "99999"), AlterConfigOp.OpType.SET))))
                    .all().get(30, TimeUnit.SECONDS);
            Config cfg = admin.describeConfigs(List.of(res)).all().get(30, TimeUnit.SECONDS).get(res);
            check("99999".equals(cfg.get("retention.ms").value()), "retention.ms after alter: %s", cfg.get("retention.ms"));
        });

        test("admin: delete records", () -> {
            String t = topic("offsets");
            TopicPartition tp = new TopicPartition(t, 0);
            admin.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(3))).all().get(30, TimeUnit.SECONDS);
            check(offset(tp, OffsetSpec.earliest()) == 3, "earliest after delete records: %d", offset(tp, OffsetSpec.earliest()));
        });

        test("consumer group: subscribe, poll, commitSync, committed", () -> {
            String t = topic("group");
            createTopics(new NewTopic(t, 2, (short) 1));
            try (KafkaProducer<byte[], byte[]> p = newProducer("all", true, "none")) {
                for (int i = 0; i < 10; i++) {
                    p.send(new ProducerRecord<>(t, i % 2, b("k" + i), b("v" + i)));
                }
                p.flush();
            }
            String group = "java-" + run + "-group";
            try (KafkaConsumer<byte[], byte[]> c = newConsumer(group)) {
                c.subscribe(List.of(t));
                int n = 0;
                long deadline = System.currentTimeMillis() + 45_000;
                while (n < 10 && System.currentTimeMillis() < deadline) {
                    n += c.poll(Duration.ofMillis(500)).count();
                }
                check(n == 10, "consumed %d of 10 records in the group", n);
                c.commitSync(Duration.ofSeconds(30));
                Map<TopicPartition, OffsetAndMetadata> committed =
                        c.committed(Set.of(new TopicPartition(t, 0), new TopicPartition(t, 1)), Duration.ofSeconds(30));
                check(committed.get(new TopicPartition(t, 0)) != null && committed.get(new TopicPartition(t, 0)).offset() == 5,
                        "committed %s", committed);
            }
        });

        test("admin: delete topics", () -> {
            List<String> names = new ArrayList<>();
            for (String n : admin.listTopics().names().get(30, TimeUnit.SECONDS)) {
                if (n.startsWith("java-" + run + "-")) {
                    names.add(n);
                }
            }
            check(!names.isEmpty(), "no topics to delete");
            admin.deleteTopics(names).all().get(30, TimeUnit.SECONDS);
            long deadline = System.currentTimeMillis() + 30_000;
            Set<String> left;
            do {
                left = admin.listTopics().names().get(30, TimeUnit.SECONDS);
                left.retainAll(names);
            } while (!left.isEmpty() && System.currentTimeMillis() < deadline);
            check(left.isEmpty(), "still listed after delete: %s", left);
            try {
                admin.describeTopics(List.of(names.get(0))).allTopicNames().get(30, TimeUnit.SECONDS);
                throw new CheckFailed("describe of a deleted topic succeeded");
            } catch (ExecutionException e) {
                check(e.getCause() instanceof UnknownTopicOrPartitionException, "got %s", describe(e.getCause()));
            }
        });
    }

    private void expectCreateFailure(NewTopic t, Class<? extends Throwable> want) throws Exception {
        try {
            createTopics(t);
            throw new CheckFailed("created " + t);
        } catch (ExecutionException e) {
            check(want.isInstance(e.getCause()), "%s: want %s, got %s", t.name(), want.getSimpleName(), describe(e.getCause()));
        }
    }

    private long offset(TopicPartition tp, OffsetSpec spec) throws Exception {
        ListOffsetsResult r = admin.listOffsets(Map.of(tp, spec));
        return r.partitionResult(tp).get(30, TimeUnit.SECONDS).offset();
    }

    /**
     * Per compression: a 3-partition topic; for each of acks=all (idempotent), acks=1 and acks=0,
     * PER_ACKS records to partition 0 (headers, a null key, a null value), plus one record to each
     * other partition; then everything is consumed back and checked for order, offsets and content.
     */
    private void produceConsume(String comp) throws Exception {
        String t = topic("c-" + comp);
        createTopics(new NewTopic(t, 3, (short) 1));
        String[][] modes = {{"all", "true"}, {"1", "false"}, {"0", "false"}};
        List<String[]> sent = new ArrayList<>(); // key, value, header value
        for (String[] m : modes) {
            try (KafkaProducer<byte[], byte[]> p = newProducer(m[0], Boolean.parseBoolean(m[1]), comp)) {
                List<Future<RecordMetadata>> fs = new ArrayList<>();
                for (int i = 0; i < PER_ACKS; i++) {
                    String key = (i == 3) ? null : "acks" + m[0] + "-k" + i;
                    String value = (i == 5) ? null : "acks" + m[0] + "-v" + i + "-" + "x".repeat(i * 10);
                    String hv = "h" + i;
                    List<Header> headers = new ArrayList<>();
                    headers.add(new RecordHeader("idx", b(hv)));
                    if (i % 4 == 0) {
                        headers.add(new RecordHeader("empty", new byte[0]));
                        headers.add(new RecordHeader("null", null));
                    }
                    fs.add(p.send(new ProducerRecord<>(t, 0, null, b(key), b(value), headers)));
                    sent.add(new String[] {key, value, hv});
                }
                p.send(new ProducerRecord<>(t, 1, b("p1"), b(m[0])));
                p.send(new ProducerRecord<>(t, 2, b("p2"), b(m[0])));
                p.flush();
                long prev = -1;
                for (Future<RecordMetadata> f : fs) {
                    RecordMetadata md = f.get(30, TimeUnit.SECONDS);
                    if (!m[0].equals("0")) { // acks=0 returns no offsets
                        check(md.offset() == prev + 1 || prev == -1, "acks=%s: offsets not contiguous: %d after %d", m[0], md.offset(), prev);
                        prev = md.offset();
                    }
                }
            }
        }
        int want = sent.size() + 2 * modes.length;
        List<ConsumerRecord<byte[], byte[]>> got = consumeAll(t, 3, want);
        check(got.size() == want, "consumed %d records, want %d", got.size(), want);
        List<ConsumerRecord<byte[], byte[]>> p0 = new ArrayList<>();
        Map<Integer, Integer> perPartition = new HashMap<>();
        for (ConsumerRecord<byte[], byte[]> r : got) {
            perPartition.merge(r.partition(), 1, Integer::sum);
            if (r.partition() == 0) {
                p0.add(r);
            }
        }
        check(perPartition.getOrDefault(1, 0) == 3 && perPartition.getOrDefault(2, 0) == 3, "per partition %s", perPartition);
        for (int i = 0; i < p0.size(); i++) {
            ConsumerRecord<byte[], byte[]> r = p0.get(i);
            String[] exp = sent.get(i);
            check(r.offset() == i, "partition 0 record %d has offset %d", i, r.offset());
            check(java.util.Objects.equals(s(r.key()), exp[0]), "record %d key %s, want %s", i, s(r.key()), exp[0]);
            check(java.util.Objects.equals(s(r.value()), exp[1]), "record %d value %s, want %s", i, s(r.value()), exp[1]);
            Header h = r.headers().lastHeader("idx");
            check(h != null && exp[2].equals(s(h.value())), "record %d header idx %s", i, h == null ? null : s(h.value()));
            if (i % PER_ACKS % 4 == 0) {
                Header e = r.headers().lastHeader("empty");
                Header n = r.headers().lastHeader("null");
                check(e != null && e.value() != null && e.value().length == 0, "record %d: empty header %s", i, e);
                check(n != null && n.value() == null, "record %d: null header %s", i, n == null ? "missing" : s(n.value()));
            }
            check(r.timestamp() > 0, "record %d timestamp %d", i, r.timestamp());
        }
    }
}
