//! Go's `text/tabwriter` as docker configures it (minwidth 10, padding 3, spaces, no flags):
//! tab-terminated cells are aligned in column blocks of consecutive lines; the text after a
//! line's last tab is not a column and is never padded.

pub struct TabWriter {
    min_width: usize,
    padding: usize,
}

impl Default for TabWriter {
    fn default() -> Self {
        TabWriter {
            min_width: 10,
            padding: 3,
        }
    }
}

struct Cell<'a> {
    text: &'a str,
    width: usize,
}

impl TabWriter {
    /// A writer with other widths than docker's usual 10 and 3 (`docker top` uses 20 and 1).
    pub fn with_widths(min_width: usize, padding: usize) -> TabWriter {
        TabWriter { min_width, padding }
    }

    pub fn format(&self, text: &str) -> String {
        let ends_with_newline = text.ends_with('\n');
        let body = text.strip_suffix('\n').unwrap_or(text);
        let lines: Vec<Vec<Cell<'_>>> = body
            .split('\n')
            .map(|line| {
                line.split('\t')
                    .map(|t| Cell {
                        text: t,
                        width: t.chars().count(),
                    })
                    .collect()
            })
            .collect();
        let mut out = String::with_capacity(text.len() * 2);
        let mut widths = Vec::new();
        self.format_block(&lines, 0, lines.len(), &mut widths, &mut out);
        if !ends_with_newline && out.ends_with('\n') {
            out.pop();
        }
        out
    }

    fn format_block(
        &self,
        lines: &[Vec<Cell<'_>>],
        mut line0: usize,
        line1: usize,
        widths: &mut Vec<usize>,
        out: &mut String,
    ) {
        let column = widths.len();
        let mut this = line0;
        while this < line1 {
            if column + 1 >= lines[this].len() {
                this += 1;
                continue;
            }
            // A column block starts here: write what comes before it with the outer widths.
            self.write_lines(lines, line0, this, widths, out);
            line0 = this;
            let mut width = self.min_width;
            while this < line1 && column + 1 < lines[this].len() {
                width = width.max(lines[this][column].width + self.padding);
                this += 1;
            }
            widths.push(width);
            self.format_block(lines, line0, this, widths, out);
            widths.pop();
            line0 = this;
        }
        self.write_lines(lines, line0, line1, widths, out);
    }

    fn write_lines(
        &self,
        lines: &[Vec<Cell<'_>>],
        line0: usize,
        line1: usize,
        widths: &[usize],
        out: &mut String,
    ) {
        for line in &lines[line0..line1] {
            for (j, cell) in line.iter().enumerate() {
                out.push_str(cell.text);
                if j < widths.len() && j + 1 < line.len() {
                    for _ in cell.width..widths[j] {
                        out.push(' ');
                    }
                }
            }
            out.push('\n');
        }
    }
}

/// Aligns `text` the way docker's tables are aligned.
pub fn align(text: &str) -> String {
    TabWriter::default().format(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_columns_to_the_widest_cell_plus_three_and_at_least_ten() {
        let text = "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\nbusybox\tlatest\t71716c933e1c\t2 minutes ago\t1.98MB\n";
        let expected = "REPOSITORY   TAG       IMAGE ID       CREATED         SIZE\n\
                        busybox      latest    71716c933e1c   2 minutes ago   1.98MB\n";
        assert_eq!(align(text), expected);
    }

    #[test]
    fn last_cell_is_not_padded_and_lines_without_tabs_pass_through() {
        assert_eq!(align("a\tb\nno tabs here\n"), "a         b\nno tabs here\n");
        assert_eq!(align("x\n"), "x\n");
    }

    #[test]
    fn counts_characters_not_bytes() {
        assert_eq!(align("é…\tz\nab\tz\n"), "é…        z\nab        z\n");
    }
}
