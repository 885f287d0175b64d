import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.concat_ws;
import static org.apache.spark.sql.functions.explode;
import static org.apache.spark.sql.functions.split;

import org.apache.spark.sql.SparkSession;

/**
 * The Spark peer of Spindle's benchmark: a DataFrame word count, counted in the JVM.
 * Words are split on " \t\n\r\f", the default delimiters of java.util.StringTokenizer
 * that Hadoop's WordCount (and Spindle) use; output lines are "word\tcount".
 */
public final class SpindleBenchWordCount {
  public static void main(String[] args) {
    if (args.length != 2) {
      System.err.println("usage: SpindleBenchWordCount <input> <output>");
      System.exit(2);
    }
    SparkSession spark = SparkSession.builder().getOrCreate();
    spark.read().text(args[0])
        .select(explode(split(col("value"), "[ \t\n\r\f]+")).as("word"))
        .filter(col("word").notEqual(""))
        .groupBy("word")
        .count()
        .select(concat_ws("\t", col("word"), col("count").cast("string")))
        .write()
        .text(args[1]);
    spark.stop();
  }
}
