//! Where the bot talks: only in an end-to-end encrypted room whose only members (joined or
//! invited) are the bot and the person writing. Anywhere else it says why it will not, and does
//! nothing else: no conversation, no consent link, no data.
//!
//! The homeserver does not enforce encryption (a client can post plaintext into an encrypted
//! room, and Synapse stores it as such), so a message that arrived unencrypted is refused too.

/// What the bot knows about a room and a message at the moment it decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomFacts {
    /// The room's state says `m.room.encryption` (Megolm).
    pub encrypted: bool,
    /// Joined and invited members, the bot included.
    pub members: usize,
    /// Whether the person writing is one of them (false for an unknown room state).
    pub sender_is_member: bool,
    /// Whether this message arrived encrypted (always true for pushes: none arrived).
    pub message_encrypted: bool,
}

/// Why the bot will not talk in a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The room is not end-to-end encrypted.
    NotEncrypted,
    /// Someone besides the bot and the account holder is in (or invited to) the room.
    NotAlone { members: usize },
    /// The message itself came unencrypted into an encrypted room.
    UnencryptedMessage,
}

impl RoomFacts {
    /// Whether the bot may converse here (and so show this person's financial data).
    pub fn verdict(&self) -> Result<(), Refusal> {
        if !self.encrypted {
            return Err(Refusal::NotEncrypted);
        }
        if self.members != 2 || !self.sender_is_member {
            return Err(Refusal::NotAlone {
                members: self.members,
            });
        }
        if !self.message_encrypted {
            return Err(Refusal::UnencryptedMessage);
        }
        Ok(())
    }
}

impl Refusal {
    /// What the bot says, in Polish and English (a refusal comes before any language is known).
    pub fn text(&self) -> String {
        match self {
            Refusal::NotEncrypted => "Ten pokój nie jest szyfrowany end-to-end, więc serwer Matrix mógłby czytać naszą rozmowę. Nie rozmawiam tu o Twoich finansach. Załóż ze mną rozmowę prywatną (DM) z włączonym szyfrowaniem.\n\
This room is not end-to-end encrypted, so the Matrix server could read our conversation. I don't discuss your finances here. Start a direct chat (DM) with me with encryption turned on.".to_owned(),
            Refusal::NotAlone { members } => {
                let others = members.saturating_sub(1);
                format!(
                    "W tym pokoju oprócz mnie jest {others} os., a o Twoich finansach rozmawiam tylko w szyfrowanej rozmowie prywatnej, w której jesteś jedyną osobą poza mną. Załóż ze mną rozmowę prywatną (DM).\n\
In this room there are {others} people besides me, and I only discuss your finances in an encrypted direct chat where you are the only person besides me. Start a direct chat (DM) with me."
                )
            }
            Refusal::UnencryptedMessage => "Twoja wiadomość dotarła bez szyfrowania, choć pokój jest szyfrowany. Nie odpowiadam na takie wiadomości — użyj aplikacji Matrix z szyfrowaniem end-to-end.\n\
Your message arrived unencrypted although the room is encrypted. I don't answer such messages — use a Matrix app with end-to-end encryption.".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> RoomFacts {
        RoomFacts {
            encrypted: true,
            members: 2,
            sender_is_member: true,
            message_encrypted: true,
        }
    }

    #[test]
    fn only_an_encrypted_room_with_the_holder_alone_passes() {
        assert_eq!(facts().verdict(), Ok(()));
        let open = RoomFacts {
            encrypted: false,
            ..facts()
        };
        assert_eq!(open.verdict(), Err(Refusal::NotEncrypted));
        let three = RoomFacts {
            members: 3,
            ..facts()
        };
        assert_eq!(three.verdict(), Err(Refusal::NotAlone { members: 3 }));
        let stranger = RoomFacts {
            sender_is_member: false,
            ..facts()
        };
        assert!(matches!(stranger.verdict(), Err(Refusal::NotAlone { .. })));
        let plain_msg = RoomFacts {
            message_encrypted: false,
            ..facts()
        };
        assert_eq!(plain_msg.verdict(), Err(Refusal::UnencryptedMessage));
        // Unencrypted wins over crowded: the first reason is the one to fix.
        let both = RoomFacts {
            encrypted: false,
            members: 5,
            ..facts()
        };
        assert_eq!(both.verdict(), Err(Refusal::NotEncrypted));
    }

    #[test]
    fn refusals_say_why_in_both_languages() {
        let t = Refusal::NotEncrypted.text();
        assert!(t.contains("nie jest szyfrowany") && t.contains("not end-to-end encrypted"));
        let t = Refusal::NotAlone { members: 3 }.text();
        assert!(
            t.contains("jest 2 os.") && t.contains("there are 2 people"),
            "{t}"
        );
        let t = Refusal::UnencryptedMessage.text();
        assert!(t.contains("bez szyfrowania") && t.contains("arrived unencrypted"));
    }
}
