import { addDays, londonDate, londonTimeOn } from './tz.js';

/** Default delay after 16:00 Europe/London before Agile D+1 appears, minutes. */
export const DEFAULT_PUBLICATION_DELAY_MINUTES = 0;
/** Agile day-ahead prices appear at this London hour (plus the delay). */
export const AGILE_PUBLICATION_HOUR = 16;
/** Tracker's next-day rate appears at this London hour. */
export const TRACKER_PUBLICATION_HOUR = 11;

/** Publication switches, changeable at run time through `POST /_sim/publication`. */
export interface PublicationSettings {
  /** Minutes after 16:00 Europe/London at which Agile D+1 appears (7.25 = 16:07:15). Default 0. */
  delayMinutes: number;
  /** London dates (`YYYY-MM-DD`) of the 16:00 publication that does not happen: D+1 stays absent all day. */
  skipDates: string[];
}

/** When the next day's prices of each product family become visible. */
export class Publication {
  settings: PublicationSettings;

  constructor(delayMinutes: number) {
    this.settings = { delayMinutes, skipDates: [] };
  }

  /** When Agile D+1 is published on London date `date` (ms), or null when that day is skipped. */
  agilePublishedAt(date: string): number | null {
    if (this.settings.skipDates.includes(date)) return null;
    return londonTimeOn(date, AGILE_PUBLICATION_HOUR) + this.settings.delayMinutes * 60_000;
  }

  /**
   * End of the newest published Agile slot at `now`: 23:00 London today before publication, 23:00 London
   * tomorrow after. A skipped day only holds back its own D+1; the next day's publication covers it.
   */
  agileEnd(now: number): number {
    const today = londonDate(now);
    const at = this.agilePublishedAt(today);
    const last = at !== null && now >= at ? addDays(today, 1) : today;
    return londonTimeOn(last, 23);
  }

  /** Last London day with a Tracker rate: tomorrow from 11:00 London, else today. */
  trackerLastDay(now: number): string {
    const today = londonDate(now);
    return now >= londonTimeOn(today, TRACKER_PUBLICATION_HOUR) ? addDays(today, 1) : today;
  }

  /** Time-of-use band records are published a day ahead. */
  bandsLastDay(now: number): string {
    return addDays(londonDate(now), 1);
  }
}
