"""What patients say: the experience form's answers (security at home, coping, ease of
use, would recommend) as distributions per stage of follow-up, small numbers hidden."""
