import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.SparkSession;

/**
 * The Spark peer of Spindle's P5: TeraSort-style 100-byte records, one per text line,
 * sorted by their first 10 bytes into a given number of range partitions and written
 * back as text lines (the same bytes as the input, in key order).
 */
public final class SpindleBenchSort {
  public static void main(String[] args) {
    if (args.length != 3) {
      System.err.println("usage: SpindleBenchSort <input> <output> <partitions>");
      System.exit(2);
    }
    int partitions = Integer.parseInt(args[2]);
    SparkSession spark = SparkSession.builder().getOrCreate();
    JavaRDD<String> lines = spark.read().textFile(args[0]).javaRDD();
    lines.sortBy(line -> line.substring(0, 10), true, partitions).saveAsTextFile(args[1]);
    spark.stop();
  }
}
