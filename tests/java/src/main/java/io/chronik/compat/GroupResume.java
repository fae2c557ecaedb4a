package io.chronik.compat;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Properties;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * The Java client's half of tests/compat/group_resume_test.py, which drives it.
 *
 * <p>{@code GroupResume produce BOOTSTRAP TOPIC VALUE...}: each value "pP-..." goes to partition
 * P, acks=all. {@code GroupResume consume BOOTSTRAP TOPIC GROUP N}: subscribes as a member of
 * GROUP, polls until N records (or 60 s), prints "partition offset value" per record, commits
 * synchronously and closes (leaving the group).
 */
public final class GroupResume {
    public static void main(String[] args) throws Exception {
        String boot = args[1], topic = args[2];
        if (args[0].equals("produce")) {
            Properties p = new Properties();
            p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, boot);
            p.put(ProducerConfig.ACKS_CONFIG, "all");
            p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
            p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
            try (KafkaProducer<byte[], byte[]> pr = new KafkaProducer<>(p)) {
                for (int i = 3; i < args.length; i++) {
                    int part = Integer.parseInt(args[i].substring(1, args[i].indexOf('-')));
                    pr.send(new ProducerRecord<>(topic, part, null, args[i].getBytes(StandardCharsets.UTF_8))).get();
                }
            }
            return;
        }
        String group = args[3];
        int n = Integer.parseInt(args[4]);
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, boot);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p)) {
            c.subscribe(List.of(topic));
            int got = 0;
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (got < n && System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200))) {
                    System.out.println(r.partition() + " " + r.offset() + " " + new String(r.value(), StandardCharsets.UTF_8));
                    got++;
                }
            }
            System.out.flush();
            c.commitSync(Duration.ofSeconds(30));
        }
    }
}
