"""Every optimiser step's learning rate, from the recipe config files through
ms_acmix.train.schedule, equals the official schedule (timm CosineLRScheduler driven as the
official Swin main.py drives it; ResNet main.py's warm-up + cosine)."""
from hypothesis import example, given

from parity.budget import examples
from parity.check_schedule import check_schedule
from parity.strategies import ScheduleCase, schedule_cases


@examples(12)
@given(schedule_cases())
@example(ScheduleCase("acmix_swin_tiny", 128, 8, 5))      # the recipe's 8 x 128
@example(ScheduleCase("acmix_resnet26", 16, 8, 5))        # the README's total batch 128
# runs shorter than the warm-up (a user's --set train.epochs=...): warm-up until the end
@example(ScheduleCase("acmix_swin_tiny", 64, 2, 3, epochs=15))
@example(ScheduleCase("acmix_resnet26", 32, 1, 4, epochs=3))
def test_schedule_matches_the_official_one(case):
    check_schedule(case)
