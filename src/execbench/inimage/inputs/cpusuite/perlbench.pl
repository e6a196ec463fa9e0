#!/usr/bin/perl
# execbench 400.perl workload: text processing in the spirit of SPEC's 400.perlbench (mail
# filtering): generate N pseudo-random "mail messages" with a fixed LCG, then tokenise them with
# regular expressions, score them against a rule set, count words in hashes, rewrite headers,
# sort and format. Prints a deterministic summary; the driver hashes stdout.
use strict;
use warnings;
use Digest::MD5 qw(md5_hex);

my $messages = shift // 2000;
my $seed = 2015;
sub rnd { $seed = ($seed * 1103515245 + 12345) % 2147483648; return $seed; }

my @syllables = qw(ka ri to me na su lo pe di vu ra ne mo ti ba ze qu ox ly in ar el ho);
my @words;
for my $i (0 .. 1999) {
    my $w = '';
    $w .= $syllables[rnd() % @syllables] for 0 .. (1 + rnd() % 3);
    push @words, $w;
}
my @domains = map { $words[$_] . '.' . (qw(org com net edu ch))[$_ % 5] } 0 .. 49;
my %rules = (
    qr/\b(?:free|winner|prize)\b/i            => 3.5,
    qr/\$\d+(?:\.\d\d)?/                       => 1.25,
    qr/(\w)\1\1/                               => 0.75,
    qr/\b[A-Z]{4,}\b/                          => 1.0,
    qr/https?:\/\/[\w.]+\/\w*/                 => 2.0,
    qr/\b(\w+)\s+\1\b/                         => 0.5,
);
my (%freq, %by_domain, @scores);
my $digest = Digest::MD5->new;
for my $m (1 .. $messages) {
    my $from = $words[rnd() % @words] . '@' . $domains[rnd() % @domains];
    my $subject = join ' ', map { $words[rnd() % @words] } 1 .. (3 + rnd() % 6);
    $subject = uc($subject) if rnd() % 7 == 0;
    my @body;
    for my $l (1 .. (5 + rnd() % 20)) {
        my @line = map { $words[rnd() % @words] } 1 .. (4 + rnd() % 12);
        push @line, (qw(free winner prize))[rnd() % 3] if rnd() % 11 == 0;
        push @line, sprintf('$%d.%02d', rnd() % 1000, rnd() % 100) if rnd() % 5 == 0;
        push @line, "http://$domains[rnd() % @domains]/$words[rnd() % @words]" if rnd() % 9 == 0;
        push @line, $line[-1] if rnd() % 13 == 0;
        push @body, join(' ', @line);
    }
    my $text = "From: $from\nSubject: $subject\n\n" . join("\n", @body) . "\n";
    my $score = 0;
    while (my ($re, $weight) = each %rules) {
        my $hits = () = $text =~ /$re/g;
        $score += $hits * $weight;
    }
    (my $rewritten = $text) =~ s/^Subject: (.*)$/'Subject: [' . ($score > 8 ? 'SPAM' : 'ok') . '] ' . lc($1)/me;
    $rewritten =~ s/(\w+)@([\w.]+)/$2!$1/g;
    $rewritten =~ tr/a-z/n-za-m/;
    $digest->add($rewritten);
    $freq{lc $1}++ while $text =~ /\b([a-z]{3,})\b/gi;
    my ($domain) = $from =~ /@(.+)$/;
    $by_domain{$domain} += $score;
    push @scores, sprintf('%08.3f:%05d', $score, $m);
}
my @top = (sort { $freq{$b} <=> $freq{$a} || $a cmp $b } keys %freq)[0 .. 19];
print "messages $messages\n";
print "words ", scalar(keys %freq), "\n";
printf "top %s %d\n", $_, $freq{$_} for @top;
printf "domain %s %.3f\n", $_, $by_domain{$_} for (sort { $by_domain{$b} <=> $by_domain{$a} || $a cmp $b } keys %by_domain)[0 .. 9];
my @sorted = sort @scores;
print "lowest $sorted[0]\nhighest $sorted[-1]\n";
print "rewritten md5 ", $digest->hexdigest, "\n";
print "scores md5 ", md5_hex(join ',', @sorted), "\n";
